"""The production settings check, alone and as scripts/serve's first step."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import psycopg
import pytest

from tests.app_server import ROOT, free_port
from tests.deploy.conftest import throwaway_database

pytestmark = pytest.mark.deploy

GOOD = {
    "REFLEX_DB_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/signup",
    "REFLEX_REDIS_URL": "redis://127.0.0.1:6379",
    "REFLEX_CORS_ALLOWED_ORIGINS": "https://signup.example.com",
    "GRANIAN_WORKERS": "2",
}
# Each bad setting, and the variable the refusal must name.
BAD = {
    "no Redis": ({"REFLEX_REDIS_URL": None}, "REFLEX_REDIS_URL"),
    "any origin": ({"REFLEX_CORS_ALLOWED_ORIGINS": "*"}, "REFLEX_CORS_ALLOWED_ORIGINS"),
    "origins with a star": (
        {"REFLEX_CORS_ALLOWED_ORIGINS": "https://signup.example.com, *"},
        "REFLEX_CORS_ALLOWED_ORIGINS",
    ),
}


def environment(settings: dict[str, str | None]) -> dict[str, str]:
    """This process's environment without any production setting, then the given ones (None: unset)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFLEX_", "GRANIAN_", "SIGNUP_"))}
    env.update({k: v for k, v in settings.items() if v is not None})
    return env


def test_the_settings_check_accepts_a_complete_production_configuration() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "signup_app.production"],
        cwd=ROOT,
        env=environment(GOOD),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize(("change", "variable"), BAD.values(), ids=BAD.keys())
def test_the_settings_check_refuses_a_bad_setting_and_names_it(
    change: dict[str, str | None], variable: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "signup_app.production"],
        cwd=ROOT,
        env=environment(GOOD | change),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert variable in done.stderr
    assert done.stderr.startswith("signup_app: refusing to start:")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize(("change", "variable"), BAD.values(), ids=BAD.keys())
def test_serve_stops_before_migrating_when_a_setting_is_bad(
    change: dict[str, str | None], variable: str
) -> None:
    with throwaway_database(migrated=False) as url:
        port = free_port()
        env = environment(GOOD | {"REFLEX_DB_URL": url, "PORT": str(port)} | change)
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "serve")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail("scripts/serve started (or hung) despite a bad setting")
        assert process.returncode != 0, out
        assert variable in err
        assert not listening(port)
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
            tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        assert tables == [], f"scripts/serve migrated before refusing: {tables}"
