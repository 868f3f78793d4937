"""Many tabs held open: cheap events, fairness beside signups, idle clients and their memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench import scenarios, stats
from bench.browser import Tab
from bench.scenarios import client_session, closed_loop, settle, wait_for_quiet_machine, websocket_signup
from tests.harness.procfs import cpu_seconds, process_tree, rss_bytes
from tests.harness.protocol import app_protocol
from tests.harness.server import ROOT, free_port, launch, stop_process
from tests.harness.server import AppServer as Server


async def open_tabs(
    session: aiohttp.ClientSession, server: Server, count: int, parallel: int = 50
) -> tuple[list[Tab], list[str]]:
    """Open `count` hydrated tabs, `parallel` connecting at once; returns the tabs and any errors."""
    gate = asyncio.Semaphore(parallel)
    tabs: list[Tab] = []
    errors: list[str] = []

    async def one() -> None:
        async with gate:
            tab = Tab(session, server.url, app_protocol())
            try:
                await tab.connect()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                await tab.close()
            else:
                tabs.append(tab)

    await asyncio.gather(*(one() for _ in range(count)))
    return tabs, errors


async def open_all(session: aiohttp.ClientSession, server: Server, count: int) -> list[Tab]:
    """open_tabs, all of them or a RuntimeError (the opened ones closed)."""
    tabs, errors = await open_tabs(session, server, count)
    if errors:
        await close_tabs(tabs)
        raise RuntimeError(f"could not open {count} tabs: {errors[0]}")
    return tabs


async def close_tabs(tabs: list[Tab]) -> None:
    for start in range(0, len(tabs), 500):
        await asyncio.gather(*(tab.close() for tab in tabs[start : start + 500]), return_exceptions=True)


async def sequential_round_trips(tab: Tab, count: int, max_s: float) -> list[float]:
    """Round trips of the cheap event, one after another, from one tab."""
    rtts = []
    deadline = time.perf_counter() + max_s
    while len(rtts) < count and time.perf_counter() < deadline:
        start = time.perf_counter()
        await tab.cheap_event()
        rtts.append(time.perf_counter() - start)
    return rtts


async def trivial_events(
    server: Server, *, count: int, warmup: int, concurrency: int, window_s: float, max_s: float
) -> dict[str, Any]:
    """Round trip of the cheap event at concurrency 1, then the worker's throughput under many tabs."""
    async with client_session() as session:
        tabs = await open_all(session, server, concurrency)
        try:
            if scenarios.QUIET_WAIT_S:  # set by the run plan
                await wait_for_quiet_machine(server, scenarios.QUIET_WAIT_S)
            await sequential_round_trips(tabs[0], warmup, max_s)
            pids = server.pids()
            cpu0, t0 = cpu_seconds(pids), time.perf_counter()
            rtts = await sequential_round_trips(tabs[0], count, max_s)
            cpu1, t1 = cpu_seconds(pids), time.perf_counter()
            single = stats.latency_summary_ms(rtts)
            single["events_per_s"] = stats.rate(len(rtts), t1 - t0)
            single["server_cpu_ms_per_event"] = stats.per_item_ms(cpu1 - cpu0, len(rtts))

            # Many tabs at once, each with one event in flight: the worker's throughput.
            loaded = await closed_loop(
                server,
                concurrency,
                _tab_worker(tabs),
                ramp_s=1.0,
                window_s=window_s,
                max_count=10**9,
                per="event",
            )
        finally:
            await close_tabs(tabs)
    await settle(server)
    return {"concurrency_1": single, f"concurrency_{concurrency}": loaded}


async def probe_cheap_events(
    probes: list[Tab], gap_s: float, rtts: list[float], errors: list[str], stop: asyncio.Event | None = None
) -> None:
    """Each probe tab sends the cheap event back to back, gap_s apart, until stop is set (or cancelled)."""

    async def probe(tab: Tab, offset: float) -> None:
        await asyncio.sleep(offset)
        while stop is None or not stop.is_set():
            started = time.perf_counter()
            try:
                await tab.cheap_event()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
            else:
                rtts.append(time.perf_counter() - started)
            await asyncio.sleep(gap_s)

    await asyncio.gather(*(probe(tab, i * gap_s / len(probes)) for i, tab in enumerate(probes)))


@contextlib.asynccontextmanager
async def probing(
    probes: list[Tab], gap_s: float, rtts: list[float], errors: list[str]
) -> AsyncIterator[None]:
    """probe_cheap_events while the block runs."""
    stop = asyncio.Event()
    task = asyncio.create_task(probe_cheap_events(probes, gap_s, rtts, errors, stop))
    try:
        yield
    finally:
        stop.set()
        await task


def _tab_worker(tabs: list[Tab]) -> Callable[[], Awaitable[None]]:
    """An operation for closed_loop whose first call in each client claims a free tab for that client."""
    free = list(tabs)
    claimed: dict[asyncio.Task, Tab] = {}

    async def operation() -> None:
        task = asyncio.current_task()
        assert task is not None
        tab = claimed.get(task)
        if tab is None:
            tab = claimed[task] = free.pop()
        await tab.cheap_event()

    return operation


async def fairness(
    server: Server,
    *,
    signup_clients: int,
    probe_clients: int,
    probe_gap_s: float,
    ramp_s: float,
    window_s: float,
    max_count: int,
    measure_db: bool,
) -> dict[str, Any]:
    """Cheap events from other tabs while `signup_clients` visitors sign up back to back."""
    rng = random.Random(7)
    rtts: list[float] = []
    probe_errors: list[str] = []
    async with client_session() as session:
        probes = await open_all(session, server, probe_clients)
        try:
            window = await closed_loop(
                server,
                signup_clients,
                lambda: websocket_signup(session, server, rng),
                ramp_s=ramp_s,
                window_s=window_s,
                max_count=max_count,
                measure_db=measure_db,
                during=lambda: probe_cheap_events(probes, probe_gap_s, rtts, probe_errors),
            )
        finally:
            await close_tabs(probes)
    await settle(server)
    return {
        "signup_clients": signup_clients,
        "probe_clients": probe_clients,
        "probe_gap_ms": probe_gap_s * 1000,
        "cheap_event": {**stats.latency_summary_ms(rtts), "errors": len(probe_errors)},
        "signups": window,
    }


async def bare_granian_memory(clients: int) -> dict[str, Any]:
    """RSS per idle websocket of Granian serving a bare ASGI app (bench/bare_websocket.py), no Reflex."""
    port = free_port()
    granian = [sys.executable, "-m", "granian", "--interface", "asgi", "--no-log"]
    command = [*granian, "--host", "127.0.0.1", "--port", str(port), "bench.bare_websocket:app"]
    process = launch(command, Path(os.devnull), cwd=ROOT)
    url = f"ws://127.0.0.1:{port}/"
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    try:
        async with client_session() as session:
            for _ in range(100):
                try:
                    sockets.append(await session.ws_connect(url))
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            else:
                raise RuntimeError("granian did not start")
            tree = process_tree(process.pid)
            await asyncio.sleep(0.5)
            before = rss_bytes(tree)
            for _ in range(clients):
                ws = await session.ws_connect(url)
                await ws.send_str("x" * 300)  # about a hydrate's size, so read buffers are in use
                await ws.receive()
                sockets.append(ws)
            await asyncio.sleep(1)
            after = rss_bytes(tree)
            for ws in sockets:
                await ws.close()
    finally:
        stop_process(process)
    return {"clients": clients, "kb_per_client": (after - before) / 1024 / clients}


async def idle_cpu(server: Server, seconds: float = 6.0) -> dict[str, Any]:
    """The server's CPU with no client connected, and the saved tab states it keeps and re-reads meanwhile."""
    await asyncio.sleep(3)  # let the write queue of the closed tabs drain
    await settle(server)
    pids = server.pids()
    before = cpu_seconds(pids)
    await asyncio.sleep(seconds)
    states = server.workdir / ".states"
    files = sum(1 for _ in states.glob("*.pkl")) if states.is_dir() else 0
    return {"state_files": files, "server_cpu_cores_busy": (cpu_seconds(pids) - before) / seconds}


async def idle_clients(
    server: Server, *, memory_clients: int, steps: list[int], probe_tabs: int, probe_events: int
) -> dict[str, Any]:
    """Server memory per idle tab, then how many tabs it holds (in steps) with cheap events still fast."""
    held: list[dict[str, Any]] = []
    result: dict[str, Any] = {"held": held, "max_held_with_p99_under_100ms": 0}
    tabs: list[Tab] = []
    async with client_session() as session:
        try:
            await settle(server)
            rss0 = server.rss_bytes()
            opened, errors = await open_tabs(session, server, memory_clients)
            tabs += opened
            await asyncio.sleep(3)  # the disk state manager writes new states after its debounce
            await settle(server)
            rss1 = server.rss_bytes()
            result["memory"] = {
                "clients": len(opened),
                "errors": len(errors),
                "server_rss_before_mb": rss0 / 2**20,
                "server_rss_after_mb": rss1 / 2**20,
                "kb_per_client": (rss1 - rss0) / 1024 / max(len(opened), 1),
            }
            for target in steps:
                started = time.perf_counter()
                more, errors = await open_tabs(session, server, target - len(tabs))
                tabs += more
                connect_s = time.perf_counter() - started
                await settle(server)
                sample = random.Random(target).sample(tabs, min(probe_tabs, len(tabs)))
                rtts: list[float] = []
                probe_errors = 0
                for tab in sample:
                    try:
                        rtts += await sequential_round_trips(tab, probe_events, 30)
                    except Exception:
                        probe_errors += 1
                alive = sum(tab.open for tab in tabs)
                step = {
                    "target": target,
                    "connected": alive,
                    "connect_errors": len(errors),
                    "connect_s": connect_s,
                    "server_rss_mb": server.rss_bytes() / 2**20,
                    "cheap_event": {**stats.latency_summary_ms(rtts), "errors": probe_errors},
                }
                held.append(step)
                if alive < target or probe_errors or not step["cheap_event"]["p99_ms"] < 100:
                    break
                result["max_held_with_p99_under_100ms"] = alive
        finally:
            await close_tabs(tabs)
    await settle(server)
    result["idle_after"] = await idle_cpu(server)
    return result
