"""The production deployment, started the way scripts/serve starts it, and the services it needs.

A deployment is: the settings check (`python -m signup_app.production`), the migrations
(`alembic upgrade head`), then `reflex run --env prod --single-port` with two granian
workers and JSON log lines, against a throwaway PostgreSQL database and a redis-server
that the test starts itself (so it can stop it). Everything here waits on a condition
(a frame, a health answer, a log line, a process) with a deadline; nothing sleeps to
synchronise.

Services: PostgreSQL on 127.0.0.1:5432 (POSTGRES_ADMIN_URL) and the
`redis-server`, `initdb`, `pg_ctl` and `runuser` binaries. Without one of them a test
skips on a laptop and fails in CI (tests.harness.services.unavailable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session, select

from signup_app import db
from signup_app.accounts.models import Account
from signup_app.migrations import migrate
from tests.harness.client import NAMESPACE, WAIT_S, WireClient, settled, state_vars
from tests.harness.procfs import children_of, established_connections, process_group_members
from tests.harness.server import ROOT, AppServer, free_port, start_app_server
from tests.harness.services import SERVICE_START_S, UNLIMITED, RedisServer, wait_until

# Every connection of the tests comes from 127.0.0.1: lift the per-address websocket cap (20 per worker).
MANY_CONNECTIONS = {"SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "200"}
WORKERS = 2

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
