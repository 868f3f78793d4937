"""scripts/serve: its first step, the settings check, refuses bad settings; it binds where it is told."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.harness.procfs import listening_addresses
from tests.harness.server import ROOT, free_port, stop_process
from tests.harness.services import libpq_url, throwaway_database, wait_until

pytestmark = pytest.mark.deploy

# A production build and two workers, on a shared 2-core machine.
SERVE_START_S = 300.0

GOOD = {
    "REFLEX_DB_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/signup",
    "REFLEX_REDIS_URL": "redis://:s3cret@127.0.0.1:6379",
    "GRANIAN_WORKERS": "2",
}
# Each bad setting: the refusal must name the variable it changes.
BAD: dict[str, dict[str, str | None]] = {
    "no Redis": {"REFLEX_REDIS_URL": None},
    "any origin": {"REFLEX_CORS_ALLOWED_ORIGINS": "*"},
    "origins with a star": {"REFLEX_CORS_ALLOWED_ORIGINS": "https://signup.example.com, *"},
    "http origin": {"REFLEX_CORS_ALLOWED_ORIGINS": "http://signup.example.com"},
    "Redis without password or TLS": {"REFLEX_REDIS_URL": "redis://127.0.0.1:6379"},
    "bad limit": {"SIGNUP_RATE_LIMIT_PER_ADDRESS": "30/fortnight"},
    "bad proxy": {"SIGNUP_TRUSTED_PROXIES": "proxy.internal"},
    "bad bind address": {"SIGNUP_BIND_ADDRESS": "all"},
}


def environment(settings: dict[str, str | None]) -> dict[str, str]:
    """This process's environment without any production setting, then the given ones (None: unset)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFLEX_", "GRANIAN_", "SIGNUP_"))}
    env.update({k: v for k, v in settings.items() if v is not None})
    return env


def serve(settings: dict[str, str | None], folder: Path) -> subprocess.Popen[bytes]:
    """scripts/serve in an environment of these settings; stdout and stderr in folder/out and folder/err."""
    with (folder / "out").open("wb") as out, (folder / "err").open("wb") as err:
        command = [str(ROOT / "scripts" / "serve")]
        return subprocess.Popen(
            command, cwd=ROOT, env=environment(settings), stdout=out, stderr=err, start_new_session=True
        )


@pytest.mark.parametrize("change", BAD.values(), ids=BAD.keys())
def test_serve_refuses_a_bad_setting_before_migrating(tmp_path: Path, change: dict[str, str | None]) -> None:
    """scripts/serve's first step, the settings check, refuses it: exit status 1, the variable named."""
    with throwaway_database(migrated=False) as url:
        port = free_port()
        process = serve(GOOD | {"REFLEX_DB_URL": url, "PORT": str(port)} | change, tmp_path)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("scripts/serve started (or hung) despite a bad setting")
        finally:
            stop_process(process, signal.SIGKILL)
        refusal = (tmp_path / "err").read_text()
        assert process.returncode == 1, (tmp_path / "out").read_text()
        assert refusal.startswith("signup_app: refusing to start:")
        assert next(iter(change)) in refusal
        assert not listening_addresses(port)
        with psycopg.connect(libpq_url(url)) as conn:
            tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        assert tables == [], f"scripts/serve migrated before refusing: {tables}"


@pytest.mark.parametrize(("bind", "expected"), [(None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0")])  # noqa: S104
def test_serve_binds_to_the_configured_address(tmp_path: Path, bind: str | None, expected: str) -> None:
    with throwaway_database(migrated=False) as url:
        port = free_port()
        settings = GOOD | {
            "REFLEX_DB_URL": url,
            "REFLEX_REDIS_URL": "redis://127.0.0.1:6379",
            "SIGNUP_ALLOW_INSECURE_REDIS": "1",
            "SIGNUP_BIND_ADDRESS": bind,
            "SIGNUP_NO_RESTART": "1",
            "PORT": str(port),
            "REFLEX_WEB_WORKDIR": str(tmp_path / ".web"),
            "REFLEX_STATES_WORKDIR": str(tmp_path / ".states"),
        }
        process = serve(settings, tmp_path)
        try:
            wait_until(
                lambda: listening_addresses(port) or process.poll() is not None,
                SERVE_START_S,
                "serve listens",
            )
            assert process.poll() is None, [
                (tmp_path / f).read_text(errors="replace")[-2000:] for f in ("out", "err")
            ]
            assert listening_addresses(port) == {expected}
        finally:
            stop_process(process, timeout=30)
