"""The production deployment as scripts/serve starts it, on a database and a redis-server the test owns."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import operator
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from signup_app import db
from signup_app.accounts.models import Account
from signup_app.migrations import migrate
from tests.harness.client import NAMESPACE, WAIT_S, WireClient, form, settled, state_vars
from tests.harness.data import strong_password, unique_email
from tests.harness.procfs import children_of, established_connections, process_group_members
from tests.harness.server import ROOT, AppServer, free_port, start_app_server
from tests.harness.services import (
    POSTGRES_ADMIN_URL,
    SERVICE_START_S,
    UNLIMITED,
    RedisServer,
    redis_server,
    throwaway_database,
    wait_until,
)
from tests.harness.wire import Accounts

ARGON2ID = "$argon2id$"
WORKERS = 2


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
    """The whole log: JSON lines, each "account created" with a correlation id, no hash, no SQL parameters."""
    text = deployment.text()
    records = parse_log_lines(text)
    created = [r for r in records if r.get("message", "").startswith("account created")]
    assert all(r.get("correlation_id") for r in created), [r for r in created if not r.get("correlation_id")]
    assert ARGON2ID not in text
    assert "[parameters:" not in text


@dataclass
class Deployment:
    """The app as scripts/serve runs it: settings check, migrations, then the workers."""

    folder: Path
    db_url: str
    redis: RedisServer
    port: int = field(default_factory=free_port)
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
            "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "200",  # every test connection comes from 127.0.0.1
            "REFLEX_REDIS_URL": self.redis.url,
            "GRANIAN_WORKERS": str(WORKERS),
            "SIGNUP_ALLOW_INSECURE_REDIS": "1",  # the test's redis-server: 127.0.0.1 only, no password
            "REFLEX_LOG_JSON": "1",
        }

    def start(self) -> None:
        """scripts/serve's three steps: the settings check, `alembic upgrade head`, the server."""
        env = {**os.environ, "REFLEX_DB_URL": self.db_url, **self.env}
        command = [sys.executable, "-m", "signup_app.production"]  # scripts/serve's first step
        check = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert (check.returncode, check.stderr) == (0, ""), "the settings check refused the deployment"
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
        with contextlib.suppress(ProcessLookupError):  # an empty group is already gone
            os.killpg(pgid, signal.SIGKILL)
        wait_until(lambda: not process_group_members(pgid), 10, "the server's processes are gone")

    def restart(self) -> None:
        self.stop()
        self.start()

    def worker_pids(self) -> set[int]:
        """The live granian worker processes: children of the main process the current start logged."""
        for record in self.records():
            if record.get("logger") == "_granian" and "main PID:" in record.get("message", ""):
                return children_of(int(record["message"].rsplit("main PID:", 1)[1].strip(" )")))
        return set()

    def connections_per_worker(self) -> dict[int, int]:
        return {pid: established_connections(pid, self.port) for pid in self.worker_pids()}

    def logs(self) -> list[str]:
        """The log text of each start, in order."""
        return [path.read_text(errors="replace") if path.exists() else "" for path in self.log_paths]

    def mark(self) -> int:
        """A position in the logs of every start, for text() and records()."""
        return len(self.text())

    def text(self, since: int = 0) -> str:
        """The log text of every start, from a mark on."""
        return "".join(self.logs())[since:]

    def records(self, since: int | None = None) -> list[dict[str, Any]]:
        """The log records of the current start (or of every start from a mark on), parsed."""
        return parse_log_lines(self.logs()[-1] if since is None else self.text(since))

    def health(self) -> tuple[int, dict[str, Any]]:
        response = httpx.get(f"{self.url}/_health", timeout=10)
        return response.status_code, response.json()

    def accounts(self) -> list[Account]:
        with Accounts.of(self.db_url) as accounts:
            return accounts.all()


@contextlib.contextmanager
def new_deployment(folder: Path, admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[Deployment]:
    """A started deployment on a new database of admin_url's server and a redis-server of its own."""
    with throwaway_database(admin_url, prefix="signup_deploy") as url, redis_server(folder) as redis:
        deployment = Deployment(folder=folder, db_url=url, redis=redis)
        try:
            deployment.start()
            yield deployment
        finally:
            deployment.stop()


def folded(deltas: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """SignupState deltas merged in order: what the page shows once they are applied."""
    return functools.reduce(operator.or_, deltas, {})


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
        return folded(state_vars(message) or {} for message in self.messages[start:])

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

    async def sign_up(self, name: str, email: str | None = None) -> dict[str, Any]:
        """Submit a valid signup (a new address unless given); SignupState's answer, folded."""
        fields = form(name=name, email=email or unique_email("deploy"), password=strong_password())
        return folded(await self.submit_and_settle(fields))


async def all_answered(clients: list[DeployClient], starts: list[int]) -> None:
    """Until each tab has the answer to its submit (from message `start` on) or lost its connection."""
    pairs = zip(clients, starts, strict=True)
    await asyncio.gather(*(c.wait(lambda c=c, s=s: c.settled_since(s) or c.dropped) for c, s in pairs))


ClientFactory = Callable[..., Awaitable[list[DeployClient]]]
