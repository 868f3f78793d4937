"""The phases on servers of their own, each while 10 other tabs keep sending the cheap event.

Flood: one address sends 1,000 submits for one email to a server with the abuse limits on (it
trusts 127.0.0.1 as a proxy, so each tab names its address). Overload: 200 visitors sign up at
once, a few times over, then 200 scripts; the server keeps the default bound on waiting hashes
(4 per core), so what it admits is created and the rest told "busy" at once.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from bench import stats
from bench.browser import Tab
from bench.scenarios import client_session, on_own_server, post_json, signup_fields
from bench.tabs import close_tabs, open_all, probing
from signup_app.web import routes
from tests.harness.data import unique_email
from tests.harness.procfs import machine_busy_seconds, own_cpu_seconds
from tests.harness.protocol import app_protocol
from tests.harness.server import AppServer as Server

PROBE_TABS = 10
PROBE_GAP_S = 0.02  # overload's probes; the flood's send back to back
CLIENTS = 200  # overload: signups at once,
BURSTS = 3  # this many times
BUSY = "busy"
FLOOD_SUBMITS = 1_000
FLOOD_TABS = 20  # the per-address socket cap (a welcomed tab ignores further submits)
PER_ADDRESS = "10/minute"
TOO_MANY = "Too many attempts"
LIMITS = {
    "SIGNUP_RATE_LIMIT_PER_ADDRESS": PER_ADDRESS,
    "SIGNUP_RATE_LIMIT_PER_EMAIL": "5/minute",
    "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "20",
    "SIGNUP_TRUSTED_PROXIES": "127.0.0.1",
}


async def _flood(server: Server) -> dict[str, Any]:
    async with client_session() as session:
        tab = functools.partial(Tab, session, server.url, app_protocol())
        flooders = [tab({"X-Forwarded-For": "198.51.100.66"}) for _ in range(FLOOD_TABS)]
        others = [tab({"X-Forwarded-For": f"203.0.113.{i + 1}"}) for i in range(PROBE_TABS)]
        await asyncio.gather(*(tab.connect() for tab in [*flooders, *others]))
        outcomes: list[str] = []

        # Stuffing one address: every submit names the same email, with a new password.
        target = unique_email("bench-flood")

        async def flood_tab(tab: Tab, count: int) -> None:
            for _ in range(count):
                vars_ = await tab.submit(signup_fields("bench", email=target))
                if vars_.get("welcome_name"):
                    outcomes.append("created")
                    return  # a signed-up tab ignores further submits
                text = str(vars_.get("errors"))
                outcomes.append(
                    "throttled" if TOO_MANY in text else "taken" if "already" in text else "other"
                )

        rtts: list[float] = []
        probe_errors: list[str] = []
        async with probing(others, 0, rtts, probe_errors):
            started = time.perf_counter()
            await asyncio.gather(*(flood_tab(tab, FLOOD_SUBMITS // FLOOD_TABS) for tab in flooders))
            flood_s = time.perf_counter() - started
        await close_tabs([*flooders, *others])
    counts = {kind: outcomes.count(kind) for kind in ("created", "taken", "throttled", "other")}
    return {
        "submits": len(outcomes),
        "outcomes": counts,
        "flood_s": flood_s,
        "others_cheap_event": {
            **stats.latency_summary_ms(rtts),
            "p95_ms": stats.percentile([r * 1000 for r in rtts], 95),
            "errors": len(probe_errors),
        },
        "per_address_limit": PER_ADDRESS,
    }


def run_flood(workdir: Path) -> dict[str, Any]:
    """Start a server with the abuse limits on, flood it, and measure the other tabs."""
    app_protocol()  # computed outside any event loop
    return on_own_server(workdir / "flood", _flood, **LIMITS)


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


async def _post(session: aiohttp.ClientSession, server: Server) -> str:
    status, retry_after = await post_json(session, f"{server.url}{routes.SIGNUP_API}", signup_fields("bench"))
    return "created" if status == 201 else BUSY if status == 503 and retry_after else "other"


async def _websocket_burst(
    session: aiohttp.ClientSession, server: Server, outcome: dict[str, list[float]]
) -> tuple[float, float]:
    """CLIENTS hydrated tabs submit at once (opening them is not measured)."""
    tabs = await open_all(session, server, CLIENTS)
    try:
        return await _burst(server, [_submit(tab, signup_fields("bench")) for tab in tabs], outcome)
    finally:
        await close_tabs(tabs)


async def _json_burst(server: Server, outcome: dict[str, list[float]]) -> tuple[float, float]:
    """CLIENTS POSTs to /api/signup at once, each on its own connection."""
    async with client_session() as session:
        return await _burst(server, [_post(session, server) for _ in range(CLIENTS)], outcome)


async def _overload(server: Server, bursts: int) -> dict[str, Any]:
    result: dict[str, Any] = {"clients": CLIENTS, "bursts": bursts, "probe_tabs": PROBE_TABS}
    result |= {"cores": server.cores(), "max_waiting_hashes": "default: 4 per core"}
    async with client_session() as session:
        # Warm up (imports, zxcvbn's dictionaries, the database pool) outside the measure.
        warm = await open_all(session, server, 1)
        await warm[0].submit(signup_fields("bench"))
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
                            seconds, cpu = await _websocket_burst(session, server, outcome)
                        else:
                            seconds, cpu = await _json_burst(server, outcome)
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
    """A server with the default bound on waiting hashes (BENCH_LIMITS lifts it), sent bursts of signups."""
    app_protocol()  # computed outside any event loop
    default_bound = {"SIGNUP_MAX_WAITING_HASHES": ""}
    return on_own_server(workdir / "overload", lambda server: _overload(server, bursts), **default_bound)
