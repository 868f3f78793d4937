"""The production settings check, alone and as scripts/serve's first step."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.harness.server import ROOT, free_port
from tests.harness.services import throwaway_database, wait_until

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


def settings_check(settings: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    """`python -m signup_app.production` run in an environment of these settings."""
    return subprocess.run(
        [sys.executable, "-m", "signup_app.production"],
        cwd=ROOT,
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_settings_check_accepts_a_complete_production_configuration() -> None:
    done = settings_check(GOOD)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("change", BAD.values(), ids=BAD.keys())
def test_the_settings_check_refuses_a_bad_setting_and_names_it(change: dict[str, str | None]) -> None:
    done = settings_check(GOOD | change)
    assert done.returncode == 1
    assert next(iter(change)) in done.stderr
    assert done.stderr.startswith("signup_app: refusing to start:")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("change", BAD.values(), ids=BAD.keys())
def test_serve_stops_before_migrating_when_a_setting_is_bad(change: dict[str, str | None]) -> None:
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
        assert next(iter(change)) in err
        assert not listening(port)
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
            tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        assert tables == [], f"scripts/serve migrated before refusing: {tables}"


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at port (Linux /proc/net/tcp and tcp6)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    raw = bytes.fromhex(address)
                    # The kernel prints each 32-bit word in host (little-endian) order.
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                    found.add(str(ipaddress.ip_address(words)))
    return found


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
        with (tmp_path / "serve.log").open("wb") as log:
            process = subprocess.Popen(
                [str(ROOT / "scripts" / "serve")],
                cwd=ROOT,
                env=environment(settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(
                lambda: listening_addresses(port) or process.poll() is not None,
                SERVE_START_S,
                "serve listens",
            )
            assert process.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
            assert listening_addresses(port) == {expected}
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
