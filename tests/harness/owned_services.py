"""Services a test owns and may stop: a redis-server and a PostgreSQL cluster of its own.

Without their binaries (`redis-server`, `initdb`, `pg_ctl`, `runuser`) a test skips on a laptop
and fails in CI (tests.harness.services.unavailable).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.harness.server import free_port
from tests.harness.services import unavailable
from tests.harness.waiting import wait_until

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
