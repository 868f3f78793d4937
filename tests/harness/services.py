"""The machine's services: migrated databases to run the app on, PostgreSQL and Redis (skip on a laptop
without them, fail in CI), services a test owns and may stop, and waiting on them with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
import redis
import sqlalchemy as sa

from signup_app import db
from signup_app.migrations import migrate
from tests.harness.server import free_port

POSTGRES_ADMIN_URL = os.environ.get("SIGNUP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class DatabaseUnavailableError(Exception):
    """The database server cannot be reached."""


def sqlite_database(folder: Path) -> str:
    """A migrated SQLite file in folder, as a database URL."""
    url = f"sqlite:///{folder / 'accounts.db'}"
    migrate(url)
    return url


def sqlalchemy_url(libpq_url: str) -> str:
    """A libpq URL in SQLAlchemy's form, with the psycopg 3 driver."""
    return libpq_url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextlib.contextmanager
def throwaway_postgres(
    admin_url: str = POSTGRES_ADMIN_URL,
    *,
    migrated: bool = True,
    prefix: str = "signup_test",
    template: str | None = None,
) -> Iterator[str]:
    """A new database on the server of admin_url (migrated unless told), dropped afterwards.

    With template (a database name), a copy of that database instead, which is much faster
    than migrating: the template must have no open connection.

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
        url = f"{sqlalchemy_url(admin_url.rsplit('/', 1)[0])}/{name}"
        try:
            if migrated and template is None:
                migrate(url)
                db.engine_for(url).dispose()
            yield url
        finally:
            db.engine_for(url).dispose()
            with contextlib.suppress(psycopg.Error):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_accounts(url: str) -> int:
    """How many accounts the database holds."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM account")).scalar_one()
    finally:
        engine.dispose()


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


async def wait_until_async(
    probe: Callable[[], Awaitable[T]], within: float, what: str, interval: float = 0.05
) -> T:
    """wait_until for async probes."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting until {what}")
        await asyncio.sleep(interval)


# How long a service (redis-server, a PostgreSQL cluster) may take to come up.
SERVICE_START_S = 30.0
REDIS_NOTHING_ON_DISK = ("--save", "", "--appendonly", "no", "--daemonize", "no")


# --- redis-server, owned by the test ---------------------------------------------------------------------


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
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*(binary, "--port", str(self.port), "--bind", "127.0.0.1"), *REDIS_NOTHING_ON_DISK],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_until(self._answers, SERVICE_START_S, f"redis-server on port {self.port} answers PING")

    def _answers(self) -> bool:
        if not self.running:
            raise RuntimeError(f"redis-server exited:\n{self.log_path.read_text(errors='replace')[-2000:]}")
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; waits until it has exited."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(port=free_port(), log_path=folder / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL ------------------------------------------------------------------------------------------


def _postgres_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if found is None:
        unavailable(f"PostgreSQL's {name}", FileNotFoundError(f"{name} is not installed"))
    return str(found)


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster of the test's own, which it can stop and start again.

    initdb and pg_ctl refuse to run as root: they run as the postgres user, in a
    temporary folder that user owns.
    """

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [*self._as_postgres, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stdout}\n{done.stderr}")

    @property
    def _as_postgres(self) -> list[str]:
        if os.geteuid() != 0:
            return []  # already an ordinary user
        runuser = shutil.which("runuser")
        if runuser is None:
            unavailable("runuser", FileNotFoundError("runuser is not installed"))
        return [runuser, "-u", "postgres", "--"]

    def init(self) -> None:
        self._run(_postgres_binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "postgres.log")
        self._run(_postgres_binary("pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: `fast` ends every session (as a shutdown does), then the server exits."""
        self._run(_postgres_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A started cluster of the test's own, on a free port; stopped and removed afterwards."""
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            unavailable("the postgres user (initdb and pg_ctl refuse to run as root)", exc)
    folder = Path(tempfile.mkdtemp(prefix="signup-pg-"))
    if os.geteuid() == 0:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(folder=folder, port=free_port())
    try:
        try:
            cluster.init()
            cluster.start()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            unavailable("a PostgreSQL cluster of the test's own", exc)
        yield cluster
    finally:
        if cluster.running():
            with contextlib.suppress(Exception):
                cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
