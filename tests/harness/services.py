"""Migrated databases to run the app on, services a test owns and may stop, and waiting with a deadline."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
import redis

from signup_app import db
from signup_app.migrations import migrate
from tests.harness.server import free_port, launch, stop_process

POSTGRES_ADMIN_URL = os.environ.get("SIGNUP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class DatabaseUnavailableError(Exception):
    """The database server cannot be reached."""


def sqlite_database(folder: Path) -> str:
    """A migrated SQLite file in folder (made if need be), as a database URL."""
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'accounts.db'}"
    migrate(url)
    return url


def libpq_url(sqlalchemy: str) -> str:
    """A SQLAlchemy URL of PostgreSQL (psycopg 3 driver) as psycopg.connect takes it."""
    return sqlalchemy.replace("postgresql+psycopg://", "postgresql://", 1)


@contextlib.contextmanager
def throwaway_postgres(
    admin_url: str = POSTGRES_ADMIN_URL,
    *,
    migrated: bool = True,
    prefix: str = "signup_test",
    template: str | None = None,
) -> Iterator[str]:
    """A new database on admin_url's server (migrated unless told, or a copy of template), dropped afterwards.

    Raises:
        DatabaseUnavailableError: The server does not answer.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(str(exc).strip()) from exc
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        server = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        url = f"{server}/{name}"
        try:
            if migrated and template is None:
                migrate(url)
                db.engine_for(url).dispose()
            yield url
        finally:
            db.engine_for(url).dispose()
            with contextlib.suppress(psycopg.Error):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Tests that are not about rate limits must not trip them (they sign up one email many times),
# nor the bound on waiting hashes (they sign up many at once).
UNLIMITED = {
    "SIGNUP_RATE_LIMIT_PER_EMAIL": "100000/minute",
    "SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL": "100000/minute",
    "SIGNUP_RATE_LIMIT_PER_ADDRESS": "100000/minute",
    "SIGNUP_SIGNIN_LIMIT_PER_ADDRESS": "100000/minute",
    "SIGNUP_SIGNIN_LIMIT_PER_ACCOUNT": "100000/minute",
    "SIGNUP_MAX_WAITING_HASHES": "100000",
}


def unavailable(what: str, error: Exception) -> None:
    """Skip on a laptop without the service; fail in CI."""
    message = f"{what} is not reachable ({error}); CI requires it"
    if os.environ.get("SIGNUP_REQUIRE_SERVICES") == "1":  # set by CI
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def throwaway_database(admin_url: str = POSTGRES_ADMIN_URL, **options: Any) -> Iterator[str]:
    """throwaway_postgres (same options), unavailable() when the server does not answer."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(throwaway_postgres(admin_url, **options))
        except DatabaseUnavailableError as exc:
            unavailable("PostgreSQL", exc)
        yield url


T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll probe until it returns something truthy (returned), or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting until {what}")
        time.sleep(interval)


# How long a service (redis-server, a PostgreSQL cluster) may take to come up.
SERVICE_START_S = 30.0


@dataclass
class RedisServer:
    """A redis-server on its own port, nothing kept on disk, started and stopped by the test."""

    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server", FileNotFoundError("redis-server is not on PATH"))
        nothing_on_disk = ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", *nothing_on_disk]
        self.process = launch(command, self.log_path, "ab")
        wait_until(self._answers, SERVICE_START_S, f"redis-server on port {self.port} answers PING")

    def _answers(self) -> bool:
        if not self.running:
            raise RuntimeError(f"redis-server exited:\n{self.log_path.read_text(errors='replace')[-2000:]}")
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1)
        with client, contextlib.suppress(redis.RedisError):
            return bool(client.ping())
        return False

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; waits until it has exited."""
        if self.process is not None:
            stop_process(self.process, timeout=10)


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(port=free_port(), log_path=folder / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _postgres_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if found is None:
        unavailable(f"PostgreSQL's {name}", FileNotFoundError(f"{name} is not installed"))
    return str(found)


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster of the test's own, which it can stop and start again."""

    folder: Path
    port: int
    run_as: list[str]  # initdb and pg_ctl refuse to run as root: as root, runuser -u postgres

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str) -> None:
        """Run initdb or pg_ctl on this cluster's data folder."""
        command = [*self.run_as, _postgres_binary(tool), "-D", str(self.data), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}\n{done.stderr}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-l", str(self.folder / "postgres.log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: `fast` ends every session (as a shutdown does), then the server exits."""
        self.run("pg_ctl", "-m", mode, "-w", "stop")


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A started cluster of the test's own, on a free port; stopped and removed afterwards."""
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            unavailable("the postgres user (initdb and pg_ctl refuse to run as root)", exc)
        run_as = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
    folder = Path(tempfile.mkdtemp(prefix="signup-pg-"))
    if run_as:
        os.chown(folder, owner.pw_uid, owner.pw_gid)  # a folder the postgres user owns
    cluster = PostgresCluster(folder, free_port(), run_as)
    try:
        try:
            cluster.run("initdb", "-A", "trust", "-U", "postgres")
            cluster.start()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            unavailable("a PostgreSQL cluster of the test's own", exc)
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
