"""The overload phase: 200 visitors sign up at the same moment while 10 other tabs keep working.

Its server keeps the default bound on waiting hashes (SIGNUP_MAX_WAITING_HASHES unset: 4 per
core beyond one running per core), unlike the throughput phases, which lift it to measure the
action at saturation; the abuse limits are lifted as there (every simulated tab is 127.0.0.1).
The signups the bound admits are created; the rest are told "busy" at once. Figures: the
latency of each kind of answer, and the other tabs' cheap-event round trips meanwhile. The burst
is repeated a few times with fresh tabs (a welcomed tab ignores further submits), so the
accepted latencies have more than one burst's handful of samples; the same again on the JSON route.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import stats
from bench.browser import Tab
from bench.scenarios import client_session, signup_fields
from bench.server import running_server, sqlite_database
from bench.tabs import close_tabs, open_tabs, probe_cheap_events
from tests.harness.procfs import machine_busy_seconds, own_cpu_seconds
from tests.harness.protocol import app_protocol
from tests.harness.server import AppServer as Server

CLIENTS = 200
BURSTS = 3
PROBE_TABS = 10
PROBE_GAP_S = 0.02
BUSY = "busy"


async def _websocket_burst(
    session: aiohttp.ClientSession, server: Server, rng: random.Random, outcome: dict[str, list[float]]
) -> tuple[float, float]:
    """CLIENTS hydrated tabs submit at once; each answer's latency goes to created / busy / other.

    Returns the burst's seconds and the server's CPU seconds meanwhile (opening the tabs left out).
    """
    tabs, errors = await open_tabs(session, server, CLIENTS)
    if errors:
        await close_tabs(tabs)
        raise RuntimeError(f"could not open {CLIENTS} tabs: {errors[0]}")

    async def one(tab: Tab, fields: dict[str, str]) -> None:
        started = time.perf_counter()
        try:
            answer = await tab.submit(fields)
        except Exception:
            outcome["other"].append(time.perf_counter() - started)
            return
        elapsed = time.perf_counter() - started
        if answer.get("welcome_name"):
            outcome["created"].append(elapsed)
        else:
            outcome[BUSY if BUSY in str(answer.get("errors")) else "other"].append(elapsed)

    forms = [signup_fields(rng) for _ in tabs]
    cpu, started = server.cpu_seconds(), time.perf_counter()
    try:
        await asyncio.gather(*(one(tab, f) for tab, f in zip(tabs, forms, strict=True)))
    finally:
        burst_s, cpu = time.perf_counter() - started, server.cpu_seconds() - cpu
        await close_tabs(tabs)
    return burst_s, cpu


async def _json_burst(
    server: Server, rng: random.Random, outcome: dict[str, list[float]]
) -> tuple[float, float]:
    """CLIENTS POSTs to /api/signup at once, each on its own connection; seconds and server CPU seconds."""
    bodies = [json.dumps(signup_fields(rng)) for _ in range(CLIENTS)]
    async with client_session() as session:

        async def one(body: str) -> None:
            started = time.perf_counter()
            try:
                async with session.post(
                    f"{server.url}/api/signup", data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    await response.read()
                    status, retry_after = response.status, response.headers.get("Retry-After")
            except Exception:
                outcome["other"].append(time.perf_counter() - started)
                return
            elapsed = time.perf_counter() - started
            kind = "created" if status == 201 else BUSY if status == 503 and retry_after else "other"
            outcome[kind].append(elapsed)

        cpu, started = server.cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(one(body) for body in bodies))
        return time.perf_counter() - started, server.cpu_seconds() - cpu


async def _overload(server: Server, bursts: int) -> dict[str, Any]:
    rng = random.Random(11)
    result: dict[str, Any] = {"clients": CLIENTS, "bursts": bursts, "probe_tabs": PROBE_TABS}
    async with client_session() as session:
        # Warm up (imports, zxcvbn's dictionaries, the database pool) outside the measure.
        warm, _ = await open_tabs(session, server, 1)
        await warm[0].submit(signup_fields(rng))
        await close_tabs(warm)
        probes, errors = await open_tabs(session, server, PROBE_TABS)
        if errors:
            raise RuntimeError(f"could not open probe tabs: {errors[0]}")
        try:
            for transport in ("websocket", "json"):
                outcome: dict[str, list[float]] = {"created": [], BUSY: [], "other": []}
                rtts: list[float] = []
                probe_errors: list[str] = []
                burst_s: list[float] = []
                burst_cpu_s = 0.0
                server_cpu, own_cpu, machine_cpu = (
                    server.cpu_seconds(),
                    own_cpu_seconds(),
                    machine_busy_seconds(),
                )
                wall = time.perf_counter()
                for _ in range(bursts):
                    stop = asyncio.Event()
                    probing = asyncio.create_task(
                        probe_cheap_events(probes, PROBE_GAP_S, rtts, probe_errors, stop)
                    )
                    try:
                        if transport == "websocket":
                            seconds, cpu = await _websocket_burst(session, server, rng, outcome)
                        else:
                            seconds, cpu = await _json_burst(server, rng, outcome)
                        burst_s.append(seconds)
                        burst_cpu_s += cpu
                    finally:
                        stop.set()
                        await probing
                server_cpu = server.cpu_seconds() - server_cpu
                own_cpu = own_cpu_seconds() - own_cpu
                machine_cpu = machine_busy_seconds() - machine_cpu
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
                    "other_processes_cores_busy": max(machine_cpu - server_cpu - own_cpu, 0.0) / wall,
                }
        finally:
            await close_tabs(probes)
    return result


def run_overload(workdir: Path, bursts: int = BURSTS) -> dict[str, Any]:
    """Start a server with the default hash-queue bound, send it bursts of signups, measure."""
    app_protocol()  # computed outside any event loop
    folder = workdir / "overload"
    folder.mkdir(parents=True, exist_ok=True)
    # An empty value is the default bound (running_server lifts it for the throughput phases).
    with (
        sqlite_database(folder) as url,
        running_server(url, folder, extra_env={"SIGNUP_MAX_WAITING_HASHES": ""}) as server,
    ):
        figures = asyncio.run(_overload(server, bursts))
        figures["cores"] = server.cores()
        figures["max_waiting_hashes"] = "default: 4 per core"
    return figures
