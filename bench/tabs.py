"""Many tabs held open: cheap events, fairness beside signups, idle clients and their memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench import scenarios, stats
from bench.browser import Tab
from bench.scenarios import Plan, client_session, closed_loop, settle, websocket_signup
from tests.harness.abuse import eventually
from tests.harness.procfs import listening_addresses, process_tree, rss_bytes
from tests.harness.protocol import app_protocol
from tests.harness.server import ROOT, free_port, launch, stop_process
from tests.harness.server import AppServer as Server


async def open_tabs(
    session: aiohttp.ClientSession, server: Server, count: int, cookies: Sequence[str] = ()
) -> tuple[list[Tab], list[str]]:
    """Open `count` hydrated tabs, 50 at once; with cookies, each signed in by its own, its account loaded."""
    gate = asyncio.Semaphore(50)
    tabs: list[Tab] = []
    errors: list[str] = []

    async def one(cookie: str | None) -> None:
        async with gate:
            tab = Tab(session, server.url, app_protocol(), {"Cookie": cookie} if cookie else {})
            try:
                await tab.connect()
                if cookie:
                    await tab.load_account()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                await tab.close()
            else:
                tabs.append(tab)

    await asyncio.gather(*(one(cookies[i] if cookies else None) for i in range(count)))
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


async def trivial_events(server: Server, plan: Plan, max_s: float = 60) -> dict[str, Any]:
    """Round trip of the cheap event at concurrency 1, then the worker's throughput under many tabs."""
    concurrency = plan.trivial_concurrency
    async with client_session() as session:
        tabs = await open_all(session, server, concurrency)
        try:
            if scenarios.QUIET_WAIT_S:  # set by the run plan
                await scenarios.wait_for_quiet_machine(server, scenarios.QUIET_WAIT_S)
            await sequential_round_trips(tabs[0], plan.trivial_warmup, max_s)
            cpu0, t0 = server.cpu_seconds(), time.perf_counter()
            rtts = await sequential_round_trips(tabs[0], plan.trivial_count, max_s)
            t1, cpu1 = time.perf_counter(), server.cpu_seconds()
            single = stats.latency_summary_ms(rtts)
            single["events_per_s"] = stats.rate(len(rtts), t1 - t0)
            single["server_cpu_ms_per_event"] = stats.per_item_ms(cpu1 - cpu0, len(rtts))

            # Many tabs at once, each with one event in flight: the worker's throughput.
            window = {"ramp_s": 1.0, "window_s": plan.trivial_window_s, "max_count": 10**9}
            loaded = await closed_loop(server, concurrency, _tab_worker(tabs), per="event", **window)
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
async def probing(tabs: list[Tab], gap_s: float, rtts: list[float], errors: list[str]) -> AsyncIterator[None]:
    """probe_cheap_events while the block runs."""
    stop = asyncio.Event()
    task = asyncio.create_task(probe_cheap_events(tabs, gap_s, rtts, errors, stop))
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


async def fairness(server: Server, plan: Plan, measure_db: bool) -> dict[str, Any]:
    """Cheap events from other tabs while `plan.fairness_signup_clients` visitors sign up back to back."""
    rtts: list[float] = []
    probe_errors: list[str] = []
    signup_clients, gap_s = plan.fairness_signup_clients, plan.fairness_probe_gap_s
    async with client_session() as session:
        probes = await open_all(session, server, plan.fairness_probe_clients)
        try:
            window = await closed_loop(
                server,
                signup_clients,
                lambda: websocket_signup(session, server),
                during=lambda: probe_cheap_events(probes, gap_s, rtts, probe_errors),
                **plan.window(signup_clients, measure_db),
            )
        finally:
            await close_tabs(probes)
    await settle(server)
    return {
        "signup_clients": signup_clients,
        "probe_clients": plan.fairness_probe_clients,
        "probe_gap_ms": gap_s * 1000,
        "cheap_event": {**stats.latency_summary_ms(rtts), "errors": len(probe_errors)},
        "signups": window,
    }


async def bare_granian_memory(clients: int) -> dict[str, Any]:
    """RSS per idle websocket of Granian serving a bare ASGI app (bench/bare_websocket.py), no Reflex."""
    port = free_port()
    granian = [sys.executable, "-m", "granian", "--interface", "asginl", "--no-log"]
    command = [*granian, "--host", "127.0.0.1", "--port", str(port), "bench.bare_websocket:app"]
    process = launch(command, Path(os.devnull), cwd=ROOT)
    url = f"ws://127.0.0.1:{port}/"
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    try:
        if not await eventually(lambda: bool(listening_addresses(port)), 10):
            raise RuntimeError("granian did not start")
        async with client_session() as session:
            sockets.append(await session.ws_connect(url))  # the first connection's one-time costs
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
    before = server.cpu_seconds()
    await asyncio.sleep(seconds)
    files = len(list((server.workdir / ".states").glob("*.pkl")))
    return {"state_files": files, "server_cpu_cores_busy": (server.cpu_seconds() - before) / seconds}


async def tabs_memory(
    session: aiohttp.ClientSession, server: Server, count: int, cookies: Sequence[str] = ()
) -> tuple[list[Tab], dict[str, Any]]:
    """The server's RSS per tab over `count` idle tabs opened (open_tabs) on a settled server; left open."""
    await settle(server)
    rss0 = server.rss_bytes()
    tabs, errors = await open_tabs(session, server, count, cookies)
    await asyncio.sleep(3)  # the disk state manager writes new states after its debounce
    await settle(server)
    rss1 = server.rss_bytes()
    return tabs, {
        "clients": len(tabs),
        "errors": len(errors),
        "server_rss_before_mb": rss0 / 2**20,
        "server_rss_after_mb": rss1 / 2**20,
        "kb_per_client": (rss1 - rss0) / 1024 / max(len(tabs), 1),
    }


async def signed_in_memory(server: Server, cookies: list[str], warmup: int = 20) -> dict[str, Any]:
    """tabs_memory over tabs signed in by a session cookie each, the account view loaded (after a warm-up)."""
    async with client_session() as session:
        warm, _ = await open_tabs(session, server, warmup, cookies[:warmup])
        await close_tabs(warm)
        tabs, memory = await tabs_memory(session, server, len(cookies) - warmup, cookies[warmup:])
        await close_tabs(tabs)
    await settle(server)
    if memory["errors"]:
        raise RuntimeError(f"{memory['errors']} signed-in tabs did not open")
    return memory


async def idle_clients(server: Server, plan: Plan) -> dict[str, Any]:
    """Server memory per idle tab, then how many tabs it holds (in steps) with cheap events still fast."""
    held: list[dict[str, Any]] = []
    result: dict[str, Any] = {"held": held, "max_held_with_p99_under_100ms": 0}
    tabs: list[Tab] = []
    async with client_session() as session:
        try:
            opened, result["memory"] = await tabs_memory(session, server, plan.idle_memory_clients)
            tabs += opened
            for target in plan.idle_steps:
                started = time.perf_counter()
                more, errors = await open_tabs(session, server, target - len(tabs))
                tabs += more
                connect_s = time.perf_counter() - started
                await settle(server)
                sample = random.Random(target).sample(tabs, min(plan.idle_probe_tabs, len(tabs)))
                rtts: list[float] = []
                probe_errors = 0
                for tab in sample:
                    try:
                        rtts += await sequential_round_trips(tab, plan.idle_probe_events, 30)
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
