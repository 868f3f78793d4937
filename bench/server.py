"""The server under test: tests.harness's launcher and databases, with the benchmark's settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from tests.harness import services
from tests.harness.server import AppServer, free_port, start_app_server

POSTGRES_ADMIN_URL = os.environ.get("SIGNUP_BENCH_POSTGRES", services.POSTGRES_ADMIN_URL)

# Every simulated tab comes from 127.0.0.1: the throughput figures measure the action, not the
# abuse limits (the flood phase measures those on its own server). Nor the bound on waiting
# hashes: the load saturates the server on purpose (the overload phase measures the bound).
BENCH_LIMITS = {
    "SIGNUP_RATE_LIMIT_PER_EMAIL": "1000000/minute",
    "SIGNUP_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
    "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "100000",
    "SIGNUP_MAX_WAITING_HASHES": "1000000",
}


@contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    """A migrated SQLite file in folder (made if need be)."""
    folder.mkdir(parents=True, exist_ok=True)
    yield services.sqlite_database(folder)


def postgresql_database() -> AbstractContextManager[str]:
    """A throwaway, migrated PostgreSQL database, dropped afterwards (DatabaseUnavailableError if none)."""
    return services.throwaway_postgres(POSTGRES_ADMIN_URL, prefix="signup_bench")


@contextmanager
def running_server(
    db_url: str, workdir: Path, port: int | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[AppServer]:
    """The production server on db_url, with Reflex's production defaults but for extra_env; stopped after."""
    port = port or free_port()
    env = {
        "REFLEX_CORS_ALLOWED_ORIGINS": f"http://127.0.0.1:{port},http://localhost:{port}",
        **BENCH_LIMITS,
        **(extra_env or {}),
    }
    server = start_app_server(
        db_url, workdir / "server.log", env, port, backend_host="127.0.0.1", production_defaults=True
    )
    try:
        yield server
    finally:
        server.stop()
