"""Runs the app in production mode (`reflex run --env prod`, one port) for wire and browser tests."""

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

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 300


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AppServer:
    """A running server: its address, database and combined log output."""

    process: subprocess.Popen
    port: int
    db_url: str
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The server process's environment variables (Linux /proc)."""
        raw = Path(f"/proc/{self.process.pid}/environ").read_bytes()
        return dict(entry.decode(errors="replace").partition("=")[::2] for entry in raw.split(b"\0") if entry)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
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
            raise RuntimeError(f"server exited early:\n{server.log_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/ping", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"server did not start:\n{server.log_text()[-4000:]}")


def start_app_server(
    db_url: str, log_path: Path, extra_env: dict[str, str] | None = None, port: int | None = None
) -> AppServer:
    """Start `reflex run --env prod --single-port` on `port` (default: a free one) against db_url.

    Each server builds its frontend in its own folder beside its log: a build
    bakes in the server's port, so servers (or a developer's `make run`) must not share one.
    A restart on the same port reuses the folder (give it another log file in the same folder).
    """
    port = port or free_port()
    env = {
        **os.environ,
        "REFLEX_DB_URL": db_url,
        "REFLEX_WEB_WORKDIR": str(log_path.parent / ".web"),
        "REFLEX_STATES_WORKDIR": str(log_path.parent / ".states"),
        # Save state as each event finishes, so tests can inspect it without waiting.
        "REFLEX_STATE_MANAGER_DISK_DEBOUNCE_SECONDS": "0",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "0",
        "PATH": f"{ROOT / '.tools/node_modules/.bin'}{os.pathsep}{Path(sys.executable).parent}"
        f"{os.pathsep}{os.environ.get('PATH', '')}",
        **(extra_env or {}),
    }
    # The page's own origin needs no setting; further origins only when a test asks (extra_env).
    if "REFLEX_CORS_ALLOWED_ORIGINS" not in (extra_env or {}):
        env.pop("REFLEX_CORS_ALLOWED_ORIGINS", None)
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reflex",
            "run",
            "--env",
            "prod",
            "--single-port",
            "--frontend-port",
            str(port),
            "--loglevel",
            "debug",
        ],
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
