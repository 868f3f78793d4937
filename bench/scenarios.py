"""The server under test and what the benchmark makes it do, each bounded in count and time, over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import stats
from bench.browser import Tab
from bench.signing_in import PASSWORD
from signup_app.web import routes
from tests.harness import services
from tests.harness.data import unique_email
from tests.harness.procfs import cpu_seconds, machine_busy_seconds, postgres_pids, thread_cpu_by_group
from tests.harness.protocol import app_protocol
from tests.harness.server import AppServer as Server
from tests.harness.server import free_port, start_app_server

# Passphrases of unrelated words, the kind the signup form asks for: strong for zxcvbn (about
# 2.5 ms to rate), 15+ characters, never built from the name or the email. The figures compare
# across runs only if every run signs up with passwords of this kind.
_WORDS = (
    "violet tangerine lighthouse marble cactus harbor quartz walnut meadow falcon copper "
    "lantern glacier pepper saddle orchid timber velvet rocket canyon biscuit nebula "
    "anchor prism willow thunder pebble compass jasmine ember"
).split()
_rng = random.Random(20261201)


def signup_fields(tag: str = "bench", email: str | None = None) -> dict[str, str]:
    """A new account's form fields: a unique address (or ``email``) and a four-word passphrase."""
    return {
        "name": "Ada Lovelace",
        "email": email or unique_email(tag),
        "password": " ".join(_rng.sample(_WORDS, 4)),
    }


POSTGRES_ADMIN_URL = os.environ.get("SIGNUP_BENCH_POSTGRES", services.POSTGRES_ADMIN_URL)

# Every simulated tab comes from 127.0.0.1: the throughput figures measure the action, not the
# abuse limits (the flood phase measures those on its own server). Nor the bound on waiting
# hashes: the load saturates the server on purpose (the overload phase measures the bound).
BENCH_LIMITS = {**services.UNLIMITED, "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "100000"}


def on_own_server(
    folder: Path,
    measure: Callable[[Server], Awaitable[Any]],
    database: contextlib.AbstractContextManager[str] | None = None,
    **extra_env: str,
) -> Any:
    """measure run on a production server of its own (BENCH_LIMITS, extra_env) on database or a new SQLite."""
    port = free_port()
    origins = f"http://127.0.0.1:{port},http://localhost:{port}"
    env = {"REFLEX_CORS_ALLOWED_ORIGINS": origins, **BENCH_LIMITS, **extra_env}
    with database or contextlib.nullcontext(services.sqlite_database(folder)) as url:
        app = start_app_server(url, folder / "server.log", env, port, "127.0.0.1", production_defaults=True)
        try:
            return asyncio.run(measure(app))
        finally:
            app.stop()


# Before each measured load, wait up to this long for other programs on the machine to go quiet
# (bench.run sets it from its plan).
QUIET_WAIT_S = 0.0
Operation = Callable[[aiohttp.ClientSession, Server], Awaitable[None]]


@dataclass(frozen=True)
class Plan:
    """How long and how much each phase runs."""

    signup_levels: tuple[int, ...] = (1, 10, 50)
    ramp_s: float = 2.0
    window_s: float = 15.0
    max_signups: int = 3000
    fairness_signup_clients: int = 50
    fairness_probe_clients: int = 10
    fairness_probe_gap_s: float = 0.02
    trivial_count: int = 2000
    trivial_warmup: int = 200
    trivial_concurrency: int = 32
    trivial_window_s: float = 10.0
    idle_memory_clients: int = 1000
    idle_steps: tuple[int, ...] = (1000, 2000, 3000, 4000, 5000)
    idle_probe_tabs: int = 20
    idle_probe_events: int = 10
    session_checks: int = 2000
    hash_runs: int = 50
    quiet_wait_s: float = 10.0

    def window(self, clients: int, measure_db: bool) -> dict[str, Any]:
        """closed_loop's window options for `clients` clients (a single one needs a shorter ramp)."""
        window = {"window_s": self.window_s, "max_count": self.max_signups, "measure_db": measure_db}
        return {"ramp_s": self.ramp_s if clients > 1 else 1.0, **window}


def client_session(limit: int = 0) -> aiohttp.ClientSession:
    """One HTTP/websocket session for a scenario's clients (no per-host connection cap unless given)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit),
        cookie_jar=aiohttp.DummyCookieJar(),  # a sign-in's cookie goes with no later request
        timeout=aiohttp.ClientTimeout(total=60),
    )


async def closed_loop(
    server: Server,
    concurrency: int,
    operation: Callable[[], Awaitable[None]],
    *,
    ramp_s: float,
    window_s: float,
    max_count: int,
    measure_db: bool = False,
    during: Callable[[], Awaitable[None]] | None = None,
    per: str = "signup",
) -> dict[str, Any]:
    """`concurrency` clients each repeating `operation` back to back, measured after a ramp.

    The window closes after window_s or max_count completions; `during` runs alongside it. Its figures:
    rate, CPU per `per` (server, its worker's threads, PostgreSQL, bench), latencies.
    """
    stop = asyncio.Event()
    enough = asyncio.Event()  # max_count completions inside the window
    finished: list[tuple[float, float]] = []  # (start, end) per completed operation
    errors: list[str] = []
    count0 = None

    async def client() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                await operation()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(0.05)
            else:
                finished.append((start, time.perf_counter()))
                if count0 is not None and len(finished) - count0 >= max_count:
                    enough.set()

    pids = server.pids()
    worker = server.worker_pids()[0]
    others_before = await wait_for_quiet_machine(server, QUIET_WAIT_S) if QUIET_WAIT_S else None
    clients = [asyncio.create_task(client()) for _ in range(concurrency)]
    side = None
    try:
        await asyncio.sleep(ramp_s)
        threads0 = thread_cpu_by_group(worker)
        t0, cpu0, own0 = time.perf_counter(), cpu_seconds(pids), time.process_time()
        db0 = cpu_seconds(postgres_pids()) if measure_db else 0.0
        machine0 = machine_busy_seconds()
        count0, errors0 = len(finished), len(errors)
        if during is not None:
            side = asyncio.create_task(during())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), window_s)
        t1, cpu1, own1 = time.perf_counter(), cpu_seconds(pids), time.process_time()
        threads1 = thread_cpu_by_group(worker)
        db1 = cpu_seconds(postgres_pids()) if measure_db else 0.0
        machine1 = machine_busy_seconds()
        count1, errors1 = len(finished), len(errors)
    finally:
        stop.set()
        if side is not None:
            side.cancel()
        await asyncio.wait_for(asyncio.gather(*clients, side or asyncio.sleep(0), return_exceptions=True), 60)
    completed, seconds = count1 - count0, t1 - t0
    server_cpu, own_cpu, db_cpu = cpu1 - cpu0, own1 - own0, db1 - db0
    latency = stats.latency_summary_ms([end - start for start, end in finished[count0:count1]])
    figures = {
        "concurrency": concurrency,
        "window_s": round(seconds, 3),
        "completed": completed,
        "errors": errors1 - errors0,
        f"{per}_per_s": stats.rate(completed, seconds),
        f"server_cpu_ms_per_{per}": stats.per_item_ms(server_cpu, completed),
        "server_cpu_cores_busy": server_cpu / seconds,
        f"bench_client_cpu_ms_per_{per}": stats.per_item_ms(own_cpu, completed),
        "latency_p50_ms": latency["p50_ms"],
        "latency_p99_ms": latency["p99_ms"],
    }
    if measure_db:
        figures[f"postgres_cpu_ms_per_{per}"] = stats.per_item_ms(db_cpu, completed)
    # CPU the rest of the machine used meanwhile: other programs competing for the same cores.
    others = machine1 - machine0 - server_cpu - own_cpu - db_cpu
    figures["other_processes_cores_busy"] = max(others, 0.0) / seconds
    if others_before is not None:
        figures["other_processes_cores_busy_before"] = others_before
    # The worker's CPU by thread: the hash pool, the event loop, Granian's, the rest.
    figures[f"worker_cpu_ms_per_{per}_by_thread"] = {
        group: stats.per_item_ms(cpu - threads0.get(group, 0.0), completed) for group, cpu in threads1.items()
    }
    if errors:
        figures["first_error"] = errors[0]
    return figures


async def _quiet(busy_s: Callable[[], float], interval_s: float, threshold: float, max_s: float) -> float:
    """Until busy_s (CPU seconds) grows by under threshold over interval_s, or max_s; the last load."""
    deadline = time.perf_counter() + max_s
    while True:
        before = busy_s()
        await asyncio.sleep(interval_s)
        cores = (busy_s() - before) / interval_s
        if cores < threshold or time.perf_counter() >= deadline:
            return max(cores, 0.0)


async def wait_for_quiet_machine(server: Server, max_s: float, threshold: float = 0.25) -> float:
    """Wait (up to max_s) until other programs use under threshold; returns their last load."""
    pids = server.pids()
    return await _quiet(
        lambda: machine_busy_seconds() - cpu_seconds(pids) - time.process_time(), 1.0, threshold, max_s
    )


async def settle(server: Server, max_s: float = 30.0) -> None:
    """Wait until the server is idle (under 5% of a core over half a second), so windows don't overlap."""
    pids = server.pids()
    await _quiet(lambda: cpu_seconds(pids), 0.5, 0.05, max_s)


async def websocket_signup(session: aiohttp.ClientSession, server: Server) -> None:
    """One visitor: open the page's websocket (connect + hydrate), submit the form, see the welcome, leave."""
    tab = Tab(session, server.url, app_protocol())
    try:
        await tab.connect()
        result = await tab.submit(signup_fields("bench"))
    finally:
        await tab.close()
    if not result.get("welcome_name"):
        raise RuntimeError(f"signup rejected: {result.get('errors')}")


async def _signups(
    server: Server, concurrency: int, signup: Operation, session_limit: int, **window: Any
) -> dict[str, Any]:
    """`concurrency` clients signing up (or in) back to back on one session; window: closed_loop's options."""
    async with client_session(session_limit) as session:
        measured = await closed_loop(server, concurrency, lambda: signup(session, server), **window)
    await settle(server)
    return measured


async def websocket_signups(server: Server, concurrency: int, **window: Any) -> dict[str, Any]:
    """Visitors signing up over the page's websocket (ramp_s, window_s, max_count, measure_db)."""
    return await _signups(server, concurrency, websocket_signup, 0, **window)


async def post_json(session: aiohttp.ClientSession, url: str, body: dict[str, str]) -> tuple[int, str | None]:
    """One script call: POST body as JSON; the answer's status and Retry-After."""
    async with session.post(url, json=body) as response:
        await response.read()
        return response.status, response.headers.get("Retry-After")


def json_call(path: str, body: Callable[[], dict[str, str]]) -> Operation:
    """A script's call of a JSON route that expects 201 (a signup, a sign-in)."""

    async def call(session: aiohttp.ClientSession, server: Server) -> None:
        status, _ = await post_json(session, f"{server.url}{path}", body())
        if status != 201:
            raise RuntimeError(f"POST {path} answered {status}")

    return call


async def json_signups(server: Server, concurrency: int, **window: Any) -> dict[str, Any]:
    """Scripts signing up on POST /api/signup, each on a keep-alive connection of its own (ramp_s, ...)."""
    signup = json_call(routes.SIGNUP_API, lambda: signup_fields("bench"))
    return await _signups(server, concurrency, signup, concurrency, **window)


async def json_signins(
    server: Server, concurrency: int, *, emails: list[str], **window: Any
) -> dict[str, Any]:
    """The same, signing in on POST /api/sessions to accounts made beforehand (with PASSWORD)."""
    accounts = itertools.cycle(emails)
    signin = json_call(routes.SIGNIN_API, lambda: {"email": next(accounts), "password": PASSWORD})
    return await _signups(server, concurrency, signin, concurrency, per="signin", **window)
