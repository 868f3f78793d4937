"""The app in production mode (`reflex run --env prod --single-port`), for tests and the benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tests.harness import procfs

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 300


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served(Protocol):
    """Where the app answers: a running server, or the app in-process (tests.harness.wire.InProcessApp)."""

    @property
    def url(self) -> str: ...

    @property
    def port(self) -> int: ...


@dataclass
class AppServer:
    """A running server: its address, database, build folder and combined log output."""

    process: subprocess.Popen
    port: int
    db_url: str
    log_path: Path

    @property
    def url(self) -> str:
        """The server's address on loopback."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def workdir(self) -> Path:
        """The folder of its build, its states and its log."""
        return self.log_path.parent

    def environment(self) -> dict[str, str]:
        """The server process's environment variables."""
        return procfs.environment(self.process.pid)

    def pids(self) -> list[int]:
        """Every process of the server (reflex run and the workers it started)."""
        return procfs.process_tree(self.process.pid)

    def worker_pids(self) -> list[int]:
        """The worker processes, which serve requests: the leaves of the tree."""
        return procfs.leaves(self.pids())

    def cpu_seconds(self) -> float:
        """CPU time of the whole server, in seconds."""
        return procfs.cpu_seconds(self.pids())

    def rss_bytes(self) -> int:
        """Resident memory of the whole server."""
        return procfs.rss_bytes(self.pids())

    def cores(self) -> int:
        """CPUs the worker may run on (its affinity mask), which is what its hashing threads can use."""
        workers = self.worker_pids()
        return len(os.sched_getaffinity(workers[0] if workers else self.process.pid))

    def log_text(self) -> str:
        """Everything the server has logged."""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the log, for error messages."""
        return self.log_text()[-chars:]

    def stop(self) -> None:
        """Stop the whole process group; kill it if it does not stop in 20 s."""
        stop_process(self.process)


def launch(command: list[str], log_path: Path, mode: str = "wb", **options: Any) -> subprocess.Popen[bytes]:
    """Start a command in a session of its own (see stop_process), its output to log_path."""
    with log_path.open(mode) as log:
        stdio = {"stdout": log, "stderr": subprocess.STDOUT, "stdin": subprocess.DEVNULL}
        return subprocess.Popen(command, **stdio, start_new_session=True, **options)


def stop_process(
    process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20, *, group: bool = True
) -> None:
    """Send sig to a process (its group: started with start_new_session); SIGKILL after timeout seconds."""
    if process.poll() is not None:
        return
    kill = os.killpg if group else os.kill
    kill(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(process.pid, signal.SIGKILL)
        process.wait()


def _wait_until_up(server: AppServer) -> None:
    """Poll /ping (a readiness probe, not a sleep standing in for synchronisation)."""
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


def start_app_server(
    db_url: str,
    log_path: Path,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
    backend_host: str | None = None,
    *,
    production_defaults: bool = False,
) -> AppServer:
    """Start `reflex run --env prod --single-port` on `port` (default: a free one) against db_url.

    Its build (which bakes in the port) and states go beside log_path. production_defaults keeps Reflex's
    state write debounce and log level; tests otherwise get state written at once and debug logs.
    """
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port"]
    command += ["--frontend-port", str(port)]
    env = {
        # The page's own origin needs no setting; further origins only when asked (extra_env).
        **{name: value for name, value in os.environ.items() if name != "REFLEX_CORS_ALLOWED_ORIGINS"},
        "REFLEX_DB_URL": db_url,
        "REFLEX_WEB_WORKDIR": str(log_path.parent / ".web"),
        "REFLEX_STATES_WORKDIR": str(log_path.parent / ".states"),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "0",
        "PATH": f"{ROOT / '.tools/node_modules/.bin'}{os.pathsep}{Path(sys.executable).parent}"
        f"{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if not production_defaults:
        # Save state as each event finishes, so tests can inspect it without waiting; log debug lines.
        env["REFLEX_STATE_MANAGER_DISK_DEBOUNCE_SECONDS"] = "0"
        command += ["--loglevel", "debug"]
    env.update(extra_env or {})
    if backend_host is not None:
        command += ["--backend-host", backend_host]
    process = launch(command, log_path, cwd=ROOT, env=env)
    server = AppServer(process=process, port=port, db_url=db_url, log_path=log_path)
    _wait_until_up(server)
    return server
