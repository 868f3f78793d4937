"""Shared fixtures: migrated temporary databases and a running production server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from signup_app import db, settings
from signup_app.migrations import migrate
from tests.app_server import AppServer, start_app_server

POSTGRES_ADMIN_URL = os.environ.get("SIGNUP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


# Tests that are not about rate limits must not trip them (they sign up one email many times),
# nor the bound on waiting hashes (they sign up many at once).
UNLIMITED = {
    "SIGNUP_RATE_LIMIT_PER_EMAIL": "100000/minute",
    "SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL": "100000/minute",
    "SIGNUP_RATE_LIMIT_PER_ADDRESS": "100000/minute",
    "SIGNUP_MAX_WAITING_HASHES": "100000",
}


@pytest.fixture(autouse=True)
def _settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app reads its settings once; a test's setenv and delenv make it read them again."""
    for name in ("setenv", "delenv"):
        change = getattr(monkeypatch, name)

        def change_and_reset(*args: object, _change: Callable[..., None] = change, **kwargs: object) -> None:
            _change(*args, **kwargs)
            settings.reset()

        setattr(monkeypatch, name, change_and_reset)
    settings.reset()
    yield
    settings.reset()


@pytest.fixture(autouse=True)
def _generous_rate_limits(monkeypatch: pytest.MonkeyPatch, _settings_follow_the_environment: None) -> None:
    for name, value in UNLIMITED.items():
        monkeypatch.setenv(name, value)


def services_required() -> bool:
    """CI sets SIGNUP_REQUIRE_SERVICES=1: a missing PostgreSQL or Redis is then a failure."""
    return os.environ.get("SIGNUP_REQUIRE_SERVICES") == "1"


def unavailable(what: str, error: Exception) -> None:
    """Skip on a laptop without the service; fail in CI."""
    message = f"{what} is not reachable ({error}); CI requires it"
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite file."""
    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    migrate(url)
    return url


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A migrated, throwaway PostgreSQL database on the machine's server."""
    name = f"signup_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        url = f"{base}/{name}"
        migrate(url)
        try:
            yield url
        finally:
            db.engine_for(url).dispose()
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL, as the configured database."""
    url = request.getfixturevalue(f"{request.param}_url")
    monkeypatch.setenv("REFLEX_DB_URL", url)
    return url


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One production server for the session, on its own migrated SQLite database."""
    folder = tmp_path_factory.mktemp("app_server")
    url = f"sqlite:///{folder / 'accounts.db'}"
    migrate(url)
    server = start_app_server(url, folder / "server.log", extra_env=UNLIMITED)
    try:
        yield server
    finally:
        server.stop()
