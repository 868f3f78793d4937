"""Signed-in visitors: accounts and sessions made beforehand in the database, and the session check."""

from __future__ import annotations

import time
import uuid
from typing import Any

from signup_app import db, settings
from signup_app.accounts import passwords, sessions
from signup_app.accounts.models import Account
from signup_app.web import signing_in
from tests.harness.procfs import cpu_seconds, postgres_pids

PASSWORD = "violet tangerine lighthouse marble"  # noqa: S105  (the benchmark accounts')
# The production server's cookie name (this process does not run in production mode).
SERVER_COOKIE = "__Host-session"


def signed_in(db_url: str, count: int, cookie: str = SERVER_COOKIE) -> list[tuple[str, str]]:
    """`count` new accounts, each signed in by sessions.start: their emails and Cookie headers.

    Their password is PASSWORD, hashed once: no hash is measured here.
    """
    config = settings.Settings(REFLEX_DB_URL=db_url)
    password_hash, run = passwords.hash_password(PASSWORD), uuid.uuid4().hex[:8]
    accounts = [
        Account(name="Bench Signin", email=f"signin-{run}-{i}@example.com", password_hash=password_hash)
        for i in range(count)
    ]
    with db.session(config) as session:
        session.add_all(accounts)
        session.commit()
    return [(a.email, f"{cookie}={sessions.start(a.id or 0, 'bench', config=config)}") for a in accounts]


async def _check(cookie: str, count: int) -> None:
    for _ in range(count):
        signing_in.remember_connection("bench", cookie)
        if await signing_in.connection_viewer("bench") is None:
            raise RuntimeError("the session check found no session")
    signing_in.forget_connection("bench")


async def session_check(db_url: str, checks: int, measure_db: bool) -> dict[str, Any]:
    """Per privileged event: the handshake's Cookie read, then sessions.resolve on a worker thread.

    signing_in.connection_viewer, as AccountState's events call it, `checks` times in this process.
    """
    [(_, cookie)] = signed_in(db_url, 1, signing_in.cookie_name())
    settings.use(settings.Settings(REFLEX_DB_URL=db_url))
    try:
        await _check(cookie, checks // 10)  # warm up the engine, its pool and the thread
        wall, cpu = time.perf_counter(), time.process_time()
        db_cpu = cpu_seconds(postgres_pids()) if measure_db else 0.0
        await _check(cookie, checks)
        db_cpu = cpu_seconds(postgres_pids()) - db_cpu if measure_db else 0.0
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        settings.use(None)
    per_check = {"cpu_us": cpu, "postgres_cpu_us": db_cpu, "wall_us": wall}
    return {"checks": checks} | {key: seconds * 1e6 / checks for key, seconds in per_check.items()}
