"""The production deployment, started the way scripts/serve starts it, and the services it needs.

A deployment is: the settings check (`python -m signup_app.production`), the migrations
(`alembic upgrade head`), then `reflex run --env prod --single-port` with two granian
workers and JSON log lines, against a throwaway PostgreSQL database and a redis-server
that the test starts itself (so it can stop it). Everything here waits on a condition
(a frame, a health answer, a log line, a process) with a deadline; nothing sleeps to
synchronise.

Services: PostgreSQL on 127.0.0.1:5432 (tests.harness.databases.POSTGRES_ADMIN_URL) and the
`redis-server`, `initdb`, `pg_ctl` and `runuser` binaries. Without one of them a test
skips on a laptop and fails in CI (tests.harness.services.unavailable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis
import sqlalchemy as sa
from sqlmodel import Session, select

from signup_app import db
from signup_app.accounts.models import Account
from signup_app.migrations import migrate
from tests.harness.client import NAMESPACE, WAIT_S, WireClient, settled, state_vars
from tests.harness.procfs import children_of, established_connections, process_group_members
from tests.harness.server import ROOT, AppServer, free_port, start_app_server
from tests.harness.services import UNLIMITED, unavailable
from tests.harness.waiting import wait_until

# How long a service (redis-server, a PostgreSQL cluster, the app after a crash) may take to come up.
SERVICE_START_S = 30.0
# Every connection of the tests comes from 127.0.0.1: lift the per-address websocket cap (20 per worker).
MANY_CONNECTIONS = {"SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "200"}
WORKERS = 2
REDIS_NOTHING_ON_DISK = ("--save", "", "--appendonly", "no", "--daemonize", "no")

T = TypeVar("T")


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


# --- The deployment --------------------------------------------------------------------------------------


def parse_log_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a JSON log, parsed; a line that is not a JSON object fails the test."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"log line {number} is not JSON ({exc}): {line[:300]!r}") from None
        assert isinstance(record, dict), f"log line {number} is not a JSON object: {line[:300]!r}"
        records.append(record)
    return records


def assert_log_hygiene(deployment: Deployment) -> None:
    """The deployment's whole log (every start): JSON lines only, each "account created" line
    with its correlation id, no argon2id hash and no SQL parameters anywhere."""
    text = deployment.text()
    records = parse_log_lines(text)
    created = [r for r in records if r.get("message", "").startswith("account created")]
    assert all(r.get("correlation_id") for r in created), [r for r in created if not r.get("correlation_id")]
    assert "$argon2id$" not in text
    assert "[parameters:" not in text


@dataclass(frozen=True)
class LogMark:
    """A position in a deployment's logs: the start it belongs to and the offset in its file."""

    start: int
    offset: int


@dataclass
class Deployment:
    """The app as scripts/serve runs it: settings check, migrations, then the workers."""

    folder: Path
    db_url: str
    redis: RedisServer
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    server: AppServer | None = None
    # Every log file, one per start, in order.
    log_paths: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The production settings scripts/serve expects, plus the test's own limits."""
        return {
            **UNLIMITED,
            **MANY_CONNECTIONS,
            "REFLEX_REDIS_URL": self.redis.url,
            "GRANIAN_WORKERS": str(WORKERS),
            # The test's redis-server listens on 127.0.0.1 only, without a password.
            "SIGNUP_ALLOW_INSECURE_REDIS": "1",
            "REFLEX_LOG_JSON": "1",
            "REFLEX_CHECK_LATEST_VERSION": "0",
            "REFLEX_TELEMETRY_ENABLED": "false",
            **self.extra_env,
        }

    def start(self) -> None:
        """scripts/serve's three steps: the settings check, `alembic upgrade head`, the server."""
        env = {**os.environ, "REFLEX_DB_URL": self.db_url, **self.env}
        check = subprocess.run(
            [sys.executable, "-m", "signup_app.production"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert check.returncode == 0, f"the settings check refused the deployment: {check.stderr}"
        migrate(self.db_url)
        db.engine_for(self.db_url).dispose()
        log_path = self.folder / f"server-{len(self.log_paths) + 1}.log"
        self.log_paths.append(log_path)
        self.server = start_app_server(self.db_url, log_path, extra_env=self.env, port=self.port)
        wait_until(lambda: len(self.worker_pids()) == WORKERS, SERVICE_START_S, "both workers run")

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL), and anything left in it."""
        if self.server is None:
            return
        self.server.stop()
        pgid = self.server.process.pid
        if process_group_members(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            wait_until(lambda: not process_group_members(pgid), 10, "the server's processes are gone")

    def restart(self) -> None:
        self.stop()
        self.start()

    # The processes.

    def granian_main_pid(self) -> int:
        """The granian main process of the current start (it logs its pid)."""
        for record in self.records():
            if record.get("logger") == "_granian" and "main PID:" in record.get("message", ""):
                return int(record["message"].rsplit("main PID:", 1)[1].strip(" )"))
        raise AssertionError("granian did not log its main PID")

    def worker_pids(self) -> set[int]:
        """The live granian worker processes (children of the granian main process)."""
        try:
            return children_of(self.granian_main_pid())
        except AssertionError:
            return set()

    def connections_per_worker(self) -> dict[int, int]:
        return {pid: established_connections(pid, self.port) for pid in self.worker_pids()}

    # The logs.

    def mark(self) -> LogMark:
        path = self.log_paths[-1]
        return LogMark(len(self.log_paths), path.stat().st_size if path.exists() else 0)

    def text(self, since: LogMark | None = None) -> str:
        """The log text of every start (or from a mark on)."""
        parts = []
        for number, path in enumerate(self.log_paths, 1):
            if since is not None and number < since.start:
                continue
            data = path.read_bytes() if path.exists() else b""
            if since is not None and number == since.start:
                data = data[since.offset :]
            parts.append(data.decode("utf-8", "replace"))
        return "".join(parts)

    def records(self, since: LogMark | None = None) -> list[dict[str, Any]]:
        """The log records of the current start (or from a mark on), parsed."""
        return parse_log_lines(self.text(since or LogMark(len(self.log_paths), 0)))

    # The services, seen from outside.

    def health(self) -> tuple[int, dict[str, Any]]:
        response = httpx.get(f"{self.url}/_health", timeout=10)
        return response.status_code, response.json()

    def accounts(self) -> list[Account]:
        engine = sa.create_engine(self.db_url)
        try:
            with Session(engine) as session:
                return list(session.exec(select(Account).order_by(Account.id)).all())
        finally:
            engine.dispose()


@contextlib.contextmanager
def deployment_of(folder: Path, db_url: str, redis: RedisServer, **extra_env: str) -> Iterator[Deployment]:
    deployment = Deployment(folder=folder, db_url=db_url, redis=redis, extra_env=extra_env)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()


# --- Clients ---------------------------------------------------------------------------------------------


@dataclass
class DeployClient(WireClient):
    """A browser tab (tests.wire's WireClient) that also notices when its connection drops."""

    dropped: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)

    async def _on_disconnect(self, *_reason: object) -> None:
        self.dropped = True
        async with self._changed:
            self._changed.notify_all()

    def signup_vars(self, start: int = 0) -> dict[str, Any]:
        """SignupState as this tab knows it: every delta from message `start` on, folded."""
        merged: dict[str, Any] = {}
        for message in self.messages[start:]:
            merged |= state_vars(message) or {}
        return merged

    async def wait(self, condition: Callable[[], bool], within: float = WAIT_S) -> None:
        """Until condition holds (checked on every frame and on disconnect), at most `within` seconds."""
        async with asyncio.timeout(within), self._changed:
            while not condition():
                await self._changed.wait()

    async def issued_signup_key(self) -> str:
        """The key the page load gave this tab (SignupState.issue_signup_key)."""
        await self.wait(lambda: bool(self.signup_vars().get("signup_key")))
        return self.signup_vars()["signup_key"]

    def settled_since(self, start: int) -> bool:
        return any(settled(message) for message in self.messages[start:])

    def events_since(self, start: int) -> list[dict[str, Any]]:
        """The frontend events (toasts, alerts...) the server sent from message `start` on."""
        return [event for message in self.messages[start:] for event in message.get("events") or []]


ClientFactory = Callable[..., Awaitable[list[DeployClient]]]


ARGON2ID = "$argon2id$"
