"""The app in production mode (`reflex run --env prod --single-port`, one port), for tests and the benchmark."""

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
from typing import Protocol

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

    @property
    def web_dir(self) -> Path:
        """Its compiled frontend."""
        return self.workdir / ".web"

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
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


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

    Each server builds its frontend in its own folder beside its log: a build
    bakes in the server's port, so servers (or a developer's `make run`) must not share one.
    A restart on the same port reuses the folder (give it another log file in the same folder).

    Args:
        db_url: The database the server uses (REFLEX_DB_URL).
        log_path: Where its combined output goes; its build and states go beside it.
        extra_env: Settings on top of the inherited environment.
        port: The single port; a free one by default.
        backend_host: The address to bind (Reflex's default when None).
        production_defaults: Keep Reflex's state write debounce and log level (measurements);
            tests otherwise get state written at once and debug logs to inspect.

    Returns:
        The server, answering /ping.
    """
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "REFLEX_DB_URL": db_url,
        "REFLEX_WEB_WORKDIR": str(log_path.parent / ".web"),
        "REFLEX_STATES_WORKDIR": str(log_path.parent / ".states"),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "0",
        "PATH": f"{ROOT / '.tools/node_modules/.bin'}{os.pathsep}{Path(sys.executable).parent}"
        f"{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if not production_defaults:
        # Save state as each event finishes, so tests can inspect it without waiting.
        env["REFLEX_STATE_MANAGER_DISK_DEBOUNCE_SECONDS"] = "0"
    env.update(extra_env or {})
    # The page's own origin needs no setting; further origins only when asked (extra_env).
    if "REFLEX_CORS_ALLOWED_ORIGINS" not in (extra_env or {}):
        env.pop("REFLEX_CORS_ALLOWED_ORIGINS", None)
    command = [sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port"]
    command += ["--frontend-port", str(port)]
    if not production_defaults:
        command += ["--loglevel", "debug"]
    if backend_host is not None:
        command += ["--backend-host", backend_host]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = AppServer(process=process, port=port, db_url=db_url, log_path=log_path)
    _wait_until_up(server)
    return server
