"""The overload phase: 200 visitors sign up at once, a few times over, while 10 other tabs keep working.

Its server keeps the default bound on waiting hashes (4 per core): what it admits is created, the
rest told "busy" at once. Figures: each answer's latency, the other tabs' round trips; then on JSON.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from bench import stats
from bench.browser import Tab
from bench.scenarios import client_session, post_signup, signup_fields
from bench.server import running_server, sqlite_database
from bench.tabs import close_tabs, open_all, probing
from tests.harness.procfs import machine_busy_seconds, own_cpu_seconds
from tests.harness.protocol import app_protocol
from tests.harness.server import AppServer as Server

CLIENTS = 200
BURSTS = 3
PROBE_TABS = 10
PROBE_GAP_S = 0.02
BUSY = "busy"


async def _burst(
    server: Server, attempts: list[Coroutine[Any, Any, str]], outcome: dict[str, list[float]]
) -> tuple[float, float]:
    """The attempts at once, each latency under its answer's kind; the seconds and server CPU seconds."""

    async def timed(attempt: Coroutine[Any, Any, str]) -> None:
        started = time.perf_counter()
        try:
            kind = await attempt
        except Exception:
            kind = "other"
        outcome[kind].append(time.perf_counter() - started)

    cpu, started = server.cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(timed(attempt) for attempt in attempts))
    return time.perf_counter() - started, server.cpu_seconds() - cpu


async def _submit(tab: Tab, fields: dict[str, str]) -> str:
    answer = await tab.submit(fields)
    if answer.get("welcome_name"):
        return "created"
    return BUSY if BUSY in str(answer.get("errors")) else "other"


async def _post(session: aiohttp.ClientSession, server: Server, rng: random.Random) -> str:
    status, retry_after = await post_signup(session, server, rng)
    return "created" if status == 201 else BUSY if status == 503 and retry_after else "other"


async def _websocket_burst(
    session: aiohttp.ClientSession, server: Server, rng: random.Random, outcome: dict[str, list[float]]
) -> tuple[float, float]:
    """CLIENTS hydrated tabs submit at once (opening them is not measured)."""
    tabs = await open_all(session, server, CLIENTS)
    try:
        return await _burst(server, [_submit(tab, signup_fields(rng)) for tab in tabs], outcome)
    finally:
        await close_tabs(tabs)


async def _json_burst(
    server: Server, rng: random.Random, outcome: dict[str, list[float]]
) -> tuple[float, float]:
    """CLIENTS POSTs to /api/signup at once, each on its own connection."""
    async with client_session() as session:
        return await _burst(server, [_post(session, server, rng) for _ in range(CLIENTS)], outcome)


async def _overload(server: Server, bursts: int) -> dict[str, Any]:
    rng = random.Random(11)
    result: dict[str, Any] = {"clients": CLIENTS, "bursts": bursts, "probe_tabs": PROBE_TABS}
    async with client_session() as session:
        # Warm up (imports, zxcvbn's dictionaries, the database pool) outside the measure.
        warm = await open_all(session, server, 1)
        await warm[0].submit(signup_fields(rng))
        await close_tabs(warm)
        probes = await open_all(session, server, PROBE_TABS)
        try:
            for transport in ("websocket", "json"):
                outcome: dict[str, list[float]] = {"created": [], BUSY: [], "other": []}
                rtts: list[float] = []
                probe_errors: list[str] = []
                burst_s: list[float] = []
                burst_cpu_s = 0.0
                # What other programs take meanwhile (the machine's busy CPU less the server's and ours).
                others = machine_busy_seconds() - server.cpu_seconds() - own_cpu_seconds()
                wall = time.perf_counter()
                for _ in range(bursts):
                    async with probing(probes, PROBE_GAP_S, rtts, probe_errors):
                        if transport == "websocket":
                            seconds, cpu = await _websocket_burst(session, server, rng, outcome)
                        else:
                            seconds, cpu = await _json_burst(server, rng, outcome)
                    burst_s.append(seconds)
                    burst_cpu_s += cpu
                others = machine_busy_seconds() - server.cpu_seconds() - own_cpu_seconds() - others
                wall = time.perf_counter() - wall
                result[transport] = {
                    "answers": {kind: len(latencies) for kind, latencies in outcome.items()},
                    "created_latency": stats.latency_summary_ms(outcome["created"]),
                    "busy_latency": stats.latency_summary_ms(outcome[BUSY]),
                    "burst_s": burst_s,
                    "others_cheap_event": {**stats.latency_summary_ms(rtts), "errors": len(probe_errors)},
                    # CPU is steadier than latency on a shared machine: the server's per answer, and
                    # what other programs took meanwhile (they compete for the same cores).
                    "server_cpu_ms_per_answer": stats.per_item_ms(burst_cpu_s, bursts * CLIENTS),
                    "other_processes_cores_busy": max(others, 0.0) / wall,
                }
        finally:
            await close_tabs(probes)
    return result


def run_overload(workdir: Path, bursts: int = BURSTS) -> dict[str, Any]:
    """Start a server with the default hash-queue bound, send it bursts of signups, measure."""
    app_protocol()  # computed outside any event loop
    folder = workdir / "overload"
    # An empty value is the default bound (running_server lifts it for the throughput phases).
    with (
        sqlite_database(folder) as url,
        running_server(url, folder, extra_env={"SIGNUP_MAX_WAITING_HASHES": ""}) as server,
    ):
        figures = asyncio.run(_overload(server, bursts))
        figures["cores"] = server.cores()
        figures["max_waiting_hashes"] = "default: 4 per core"
    return figures
