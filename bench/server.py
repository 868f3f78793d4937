"""The server under test: databases to run it on, the production server itself, and /proc readings of it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from signup_app.migrations import migrate

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 300
POSTGRES_ADMIN_URL = os.environ.get("SIGNUP_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# --- /proc ---------------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1], utime [11])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process is gone
        return None
    return text[text.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """root and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (all their threads) and of their reaped children, in s.

    Pass a whole tree: a child that exits moves its time into its parent's reaped-children
    counters, so a tree's total never loses it.
    """
    ticks = 0
    for pid in pids:
        if (fields := _stat_fields(pid)) is not None:
            ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / _CLOCK_TICKS


def thread_cpu_by_group(pid: int) -> dict[str, float]:
    """CPU seconds of one process's threads, grouped by what they run.

    The main thread runs the event loop; threads at nice +10 are the password-hashing pool
    (signup_app.accounts.passwords); tokio threads are Granian's Rust runtime; the other
    Python threads are asyncio's and Starlette's worker threads (validation, database,
    Reflex's state writes).
    """
    groups: dict[str, float] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return groups
    for tid in tids:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if int(tid) == pid:
            group = "event_loop"
        elif int(fields[16]) > 0:
            group = "hash_pool"
        elif comm.startswith("tokio"):
            group = "granian"
        else:
            group = "worker_threads"
        groups[group] = groups.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return groups


def rss_bytes(pids: list[int]) -> int:
    """Resident set size of these processes, summed."""
    total = 0
    for pid in pids:
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
        total += resident * _PAGE_SIZE
    return total


def postgres_pids() -> list[int]:
    """The PostgreSQL server's process trees on this machine (its backends do the SQL work).

    Read again at each end of a window: backends come and go with pooled connections.
    """
    postgres = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            try:
                comm = Path(f"/proc/{entry.name}/comm").read_text().strip()
            except OSError:
                continue
            if comm.startswith("postgres"):
                postgres[int(entry.name)] = int(fields[1])
    roots = [pid for pid, parent in postgres.items() if parent not in postgres]
    return [pid for root in roots for pid in process_tree(root)]


def machine_busy_seconds() -> float:
    """CPU time all cores of the machine spent busy (not idle, not waiting on I/O), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    return sum(fields[i] for i in (0, 1, 2, 5, 6, 7)) / _CLOCK_TICKS


def own_cpu_seconds() -> float:
    """CPU time of this (benchmark) process and its children, in seconds."""
    return cpu_seconds(process_tree(os.getpid()))


# --- Databases -----------------------------------------------------------------------------------------


@contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    """A migrated SQLite file in folder."""
    url = f"sqlite:///{folder / 'accounts.db'}"
    migrate(url)
    yield url


class DatabaseUnavailable(Exception):
    """The database server cannot be reached."""


@contextmanager
def postgresql_database() -> Iterator[str]:
    """A throwaway, migrated PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"signup_bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc).strip()) from exc
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            url = f"{base}/{name}"
            migrate(url)
            yield url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_accounts(url: str) -> int:
    """How many accounts the database holds."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM account")).scalar_one()
    finally:
        engine.dispose()


# --- The server ----------------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """`reflex run --env prod --single-port` on loopback, with its own build and state folders."""

    process: subprocess.Popen
    port: int
    db_url: str
    workdir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def web_dir(self) -> Path:
        return self.workdir / ".web"

    def pids(self) -> list[int]:
        """Every process of the server (reflex run and the workers it started)."""
        return process_tree(self.process.pid)

    def worker_pids(self) -> list[int]:
        """The worker processes, which serve requests: the leaves of the tree."""
        tree = self.pids()
        parents = {int(fields[1]) for pid in tree if (fields := _stat_fields(pid)) is not None}
        return [pid for pid in tree if pid not in parents]

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pids())

    def rss_bytes(self) -> int:
        return rss_bytes(self.pids())

    def cores(self) -> int:
        """CPUs the worker may run on (its affinity mask), which is what its hashing threads can use."""
        workers = self.worker_pids()
        return len(os.sched_getaffinity(workers[0] if workers else self.process.pid))

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Stop the whole process group; kill it if it does not stop in 20 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/ping", timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"server did not start within {START_TIMEOUT_S} s:\n{server.log_tail()}")


@contextmanager
def running_server(
    db_url: str, workdir: Path, port: int | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Start the production server on db_url, with Reflex's production defaults otherwise; stop it after.

    extra_env adds settings (e.g. REFLEX_STATE_MANAGER_MODE) to compare against the defaults.
    """
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    origins = f"http://127.0.0.1:{port},http://localhost:{port}"
    env = {
        **os.environ,
        "REFLEX_DB_URL": db_url,
        # Its own build (a build bakes in the port) and state folders, beside its log.
        "REFLEX_WEB_WORKDIR": str(workdir / ".web"),
        "REFLEX_STATES_WORKDIR": str(workdir / ".states"),
        "REFLEX_CORS_ALLOWED_ORIGINS": origins,
        # Every simulated tab comes from 127.0.0.1: the throughput figures measure the
        # action, not the abuse limits (the flood phase measures those on its own server).
        "SIGNUP_RATE_LIMIT_PER_EMAIL": "1000000/minute",
        "SIGNUP_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
        "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "100000",
        # Nor the bound on waiting hashes: they saturate the server on purpose (the overload phase
        # measures the bound on its own server).
        "SIGNUP_MAX_WAITING_HASHES": "1000000",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "0",
        "PATH": f"{ROOT / '.tools/node_modules/.bin'}{os.pathsep}{Path(sys.executable).parent}"
        f"{os.pathsep}{os.environ.get('PATH', '')}",
        **(extra_env or {}),
    }
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port"),
                *("--frontend-port", str(port), "--backend-host", "127.0.0.1"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(process=process, port=port, db_url=db_url, workdir=workdir, log_path=log_path)
    try:
        _wait_until_up(server)
        yield server
    finally:
        server.stop()
