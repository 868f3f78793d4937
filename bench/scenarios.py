"""What the benchmark makes the server do, each bounded in count and time, over loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bench import stats
from bench.browser import Tab
from tests.harness.procfs import cpu_seconds, machine_busy_seconds, postgres_pids, thread_cpu_by_group
from tests.harness.protocol import app_protocol
from tests.harness.server import AppServer as Server

# Passphrases of unrelated words, the kind the signup form asks for: strong for zxcvbn,
# 15+ characters, never built from the name or the email.
_WORDS = (
    "violet tangerine lighthouse marble cactus harbor quartz walnut meadow falcon copper "
    "lantern glacier pepper saddle orchid timber velvet rocket canyon biscuit nebula "
    "anchor prism willow thunder pebble compass jasmine ember"
).split()
_NAME = "Ada Lovelace"
_run_id = uuid.uuid4().hex[:8]

# Before each measured load, wait up to this long for other programs on the machine to go quiet
# (bench.run sets it from its plan).
QUIET_WAIT_S = 0.0
_serial = itertools.count()


def signup_fields(rng: random.Random) -> dict[str, str]:
    """A new account's form fields: a unique address and a four-word passphrase."""
    email = f"bench-{_run_id}-{next(_serial)}@example.com"
    return {"name": _NAME, "email": email, "password": " ".join(rng.sample(_WORDS, 4))}


def client_session(limit: int = 0) -> aiohttp.ClientSession:
    """One HTTP/websocket session for a scenario's clients (no per-host connection cap unless given)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit),
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
    rate, CPU per `per` (server, its processes, its worker's threads, PostgreSQL, bench), latencies.
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
        procs0 = {pid: cpu_seconds([pid]) for pid in pids}
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
        procs1 = {pid: cpu_seconds([pid]) for pid in pids}
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
    # Each process of the server's tree (with its reaped children's time), and the worker's threads.
    figures[f"server_cpu_ms_per_{per}_by_process"] = {
        ("worker" if pid == worker else f"pid {pid}"): stats.per_item_ms(procs1[pid] - cpu, completed)
        for pid, cpu in procs0.items()
    }
    figures[f"worker_cpu_ms_per_{per}_by_thread"] = {
        group: stats.per_item_ms(cpu - threads0.get(group, 0.0), completed) for group, cpu in threads1.items()
    }
    if errors:
        figures["first_error"] = errors[0]
    return figures


async def _quiet(
    busy_s: Callable[[], float], interval_s: float, threshold_cores: float, max_s: float
) -> float:
    """Until busy_s (CPU seconds) grows by under threshold_cores over interval_s, or max_s; the last load."""
    deadline = time.perf_counter() + max_s
    while True:
        before = busy_s()
        await asyncio.sleep(interval_s)
        cores = (busy_s() - before) / interval_s
        if cores < threshold_cores or time.perf_counter() >= deadline:
            return max(cores, 0.0)


async def wait_for_quiet_machine(server: Server, max_s: float, threshold_cores: float = 0.25) -> float:
    """Wait (up to max_s) until other programs use under threshold_cores; returns their last load."""
    pids = server.pids()
    return await _quiet(
        lambda: machine_busy_seconds() - cpu_seconds(pids) - time.process_time(), 1.0, threshold_cores, max_s
    )


async def settle(server: Server, max_s: float = 30.0) -> None:
    """Wait until the server is idle (under 5% of a core over half a second), so windows don't overlap."""
    pids = server.pids()
    await _quiet(lambda: cpu_seconds(pids), 0.5, 0.05, max_s)


async def websocket_signup(session: aiohttp.ClientSession, server: Server, rng: random.Random) -> None:
    """One visitor: open the page's websocket (connect + hydrate), submit the form, see the welcome, leave."""
    tab = Tab(session, server.url, app_protocol())
    try:
        await tab.connect()
        result = await tab.submit(signup_fields(rng))
    finally:
        await tab.close()
    if not result.get("welcome_name"):
        raise RuntimeError(f"signup rejected: {result.get('errors')}")


async def _signups(
    server: Server,
    concurrency: int,
    signup: Callable[[aiohttp.ClientSession, Server, random.Random], Awaitable[None]],
    rng: random.Random,
    session_limit: int,
    **window: float,
) -> dict[str, Any]:
    """`concurrency` clients signing up back to back over one session; window: closed_loop's options."""
    async with client_session(session_limit) as session:
        measured = await closed_loop(server, concurrency, lambda: signup(session, server, rng), **window)
    await settle(server)
    return measured


async def websocket_signups(server: Server, concurrency: int, **window: float) -> dict[str, Any]:
    """Visitors signing up over the page's websocket (ramp_s, window_s, max_count, measure_db)."""
    return await _signups(server, concurrency, websocket_signup, random.Random(concurrency), 0, **window)


async def post_signup(
    session: aiohttp.ClientSession, server: Server, rng: random.Random
) -> tuple[int, str | None]:
    """One script call: POST /api/signup with a new JSON signup; the answer's status and Retry-After."""
    body = json.dumps(signup_fields(rng))
    headers = {"Content-Type": "application/json"}
    async with session.post(f"{server.url}/api/signup", data=body, headers=headers) as response:
        await response.read()
        return response.status, response.headers.get("Retry-After")


async def json_signup(session: aiohttp.ClientSession, server: Server, rng: random.Random) -> None:
    """A signup on the JSON route, expecting 201."""
    status, _ = await post_signup(session, server, rng)
    if status != 201:
        raise RuntimeError(f"POST /api/signup answered {status}")


async def json_signups(server: Server, concurrency: int, **window: float) -> dict[str, Any]:
    """Scripts signing up on the JSON route (ramp_s, window_s, max_count, measure_db)."""
    # Keep-alive connections, one per concurrent client, as a script's HTTP pool would.
    return await _signups(
        server, concurrency, json_signup, random.Random(1000 + concurrency), concurrency, **window
    )
