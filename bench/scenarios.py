"""What the benchmark makes the server do, each bounded in count and time, over loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import resource
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Window:
    """What happened in one measured window of a closed-loop load."""

    concurrency: int
    seconds: float
    completed: int
    errors: int
    server_cpu_s: float
    client_cpu_s: float
    db_cpu_s: float | None
    machine_cpu_s: float
    latencies_s: list[float] = field(default_factory=list)
    first_error: str | None = None
    others_before_cores: float | None = None
    worker_threads_cpu_s: dict[str, float] = field(default_factory=dict)
    processes_cpu_s: dict[str, float] = field(default_factory=dict)

    def summary(self, per: str) -> dict[str, Any]:
        """The window as figures: per-second rate, CPU per item, latency percentiles."""
        lat = stats.latency_summary_ms(self.latencies_s)
        figures = {
            "concurrency": self.concurrency,
            "window_s": round(self.seconds, 3),
            "completed": self.completed,
            "errors": self.errors,
            f"{per}_per_s": stats.rate(self.completed, self.seconds),
            f"server_cpu_ms_per_{per}": stats.per_item_ms(self.server_cpu_s, self.completed),
            "server_cpu_cores_busy": self.server_cpu_s / self.seconds,
            f"bench_client_cpu_ms_per_{per}": stats.per_item_ms(self.client_cpu_s, self.completed),
            "latency_p50_ms": lat["p50_ms"],
            "latency_p99_ms": lat["p99_ms"],
        }
        if self.db_cpu_s is not None:
            figures[f"postgres_cpu_ms_per_{per}"] = stats.per_item_ms(self.db_cpu_s, self.completed)
        # CPU the rest of the machine used meanwhile: other programs competing for the same cores.
        others = self.machine_cpu_s - self.server_cpu_s - self.client_cpu_s - (self.db_cpu_s or 0)
        figures["other_processes_cores_busy"] = max(others, 0.0) / self.seconds
        if self.others_before_cores is not None:
            figures["other_processes_cores_busy_before"] = self.others_before_cores
        # Each process of the server's tree (with its reaped children's time).
        figures[f"server_cpu_ms_per_{per}_by_process"] = {
            name: stats.per_item_ms(seconds, self.completed) for name, seconds in self.processes_cpu_s.items()
        }
        figures[f"worker_cpu_ms_per_{per}_by_thread"] = {
            group: stats.per_item_ms(seconds, self.completed)
            for group, seconds in self.worker_threads_cpu_s.items()
        }
        if self.first_error:
            figures["first_error"] = self.first_error
        return figures


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
) -> Window:
    """`concurrency` clients each repeating `operation` back to back; measured in steady state.

    After a ramp, the window opens: the server's CPU (its whole process tree), the benchmark's
    own CPU and the completions are read at both ends of it. It closes after window_s or
    max_count completions, whichever comes first; then the clients stop and in-flight
    operations finish. `during` runs alongside the window (other clients' traffic).
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
        t0, cpu0, own0 = time.perf_counter(), cpu_seconds(pids), _own_cpu_seconds()
        db0 = cpu_seconds(postgres_pids()) if measure_db else 0.0
        machine0 = machine_busy_seconds()
        count0, errors0 = len(finished), len(errors)
        if during is not None:
            side = asyncio.create_task(during())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), window_s)
        t1, cpu1, own1 = time.perf_counter(), cpu_seconds(pids), _own_cpu_seconds()
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
    return Window(
        concurrency=concurrency,
        seconds=t1 - t0,
        completed=count1 - count0,
        errors=errors1 - errors0,
        server_cpu_s=cpu1 - cpu0,
        client_cpu_s=own1 - own0,
        db_cpu_s=(db1 - db0) if measure_db else None,
        machine_cpu_s=machine1 - machine0,
        latencies_s=[end - start for start, end in finished[count0:count1]],
        first_error=errors[0] if errors else None,
        others_before_cores=others_before,
        worker_threads_cpu_s={group: threads1[group] - threads0.get(group, 0.0) for group in threads1},
        processes_cpu_s={
            ("worker" if pid == worker else f"pid {pid}"): procs1[pid] - procs0[pid] for pid in procs0
        },
    )


async def wait_for_quiet_machine(server: Server, max_s: float, threshold_cores: float = 0.25) -> float:
    """Wait (up to max_s) until other programs use under threshold_cores; returns their last load.

    The server shares the machine's cores with whatever else runs on it: a window measured
    while another program computes says more about that program than about the server.
    """
    pids = server.pids()
    deadline = time.perf_counter() + max_s
    while True:
        machine0, server0, own0 = machine_busy_seconds(), cpu_seconds(pids), _own_cpu_seconds()
        await asyncio.sleep(1.0)
        others = (
            (machine_busy_seconds() - machine0) - (cpu_seconds(pids) - server0) - (_own_cpu_seconds() - own0)
        )
        if others < threshold_cores or time.perf_counter() >= deadline:
            return max(others, 0.0)


async def settle(server: Server, max_s: float = 30.0) -> None:
    """Wait until the server is idle (under 5% of a core over half a second), so windows don't overlap."""
    pids = server.pids()
    deadline = time.perf_counter() + max_s
    while time.perf_counter() < deadline:
        before = cpu_seconds(pids)
        await asyncio.sleep(0.5)
        if cpu_seconds(pids) - before < 0.025:
            return


# --- Signups over the websocket ------------------------------------------------------------------------


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
    return measured.summary("signup")


async def websocket_signups(server: Server, concurrency: int, **window: float) -> dict[str, Any]:
    """Visitors signing up over the page's websocket (ramp_s, window_s, max_count, measure_db)."""
    return await _signups(server, concurrency, websocket_signup, random.Random(concurrency), 0, **window)


# --- Signups over the JSON route -----------------------------------------------------------------------


async def json_signup(session: aiohttp.ClientSession, server: Server, rng: random.Random) -> None:
    """One script call: POST /api/signup with a JSON body, expecting 201."""
    body = json.dumps(signup_fields(rng))
    async with session.post(
        f"{server.url}/api/signup", data=body, headers={"Content-Type": "application/json"}
    ) as response:
        await response.read()
        if response.status != 201:
            raise RuntimeError(f"POST /api/signup answered {response.status}")


async def json_signups(server: Server, concurrency: int, **window: float) -> dict[str, Any]:
    """Scripts signing up on the JSON route (ramp_s, window_s, max_count, measure_db)."""
    # Keep-alive connections, one per concurrent client, as a script's HTTP pool would.
    return await _signups(
        server, concurrency, json_signup, random.Random(1000 + concurrency), concurrency, **window
    )
