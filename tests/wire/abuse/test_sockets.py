"""The websocket against `reflex run --env prod`: the per-address cap at the handshake, handlers a
client may not call, oversized frames, and abandoned tabs whose state expires."""

from __future__ import annotations

import asyncio
import json
import struct
import time
import uuid
from typing import Any

import httpx
import pytest
import socketio.exceptions
from reflex.state import State

from signup_app.web.connection_cap import TOO_MANY_CONNECTIONS
from signup_app.web.handler_allowlist import refused_handlers
from signup_app.web.hostile_events import FRONTEND_EXCEPTION, REFUSED_HANDLER, UNKNOWN_HANDLER
from tests.harness.abuse import (
    PROXIED_MAX_CONNECTIONS,
    LimitedServer,
    RawSocket,
    close_all,
    connect_all,
    eventually,
    forwarded,
    handshake_status,
    new_addresses,
    process_tree_rss_kb,
)
from tests.harness.client import ROOT_STATE, SIGNUP_STATE, WAIT_S, WireClient, form
from tests.harness.data import strong_password, unique_email
from tests.harness.wire import state_file

pytestmark = pytest.mark.wire

CAP_SOCKETS = 500
CAP_BATCH = 50


async def test_sockets_over_the_cap_are_refused_at_the_handshake(proxied: LimitedServer) -> None:
    """500 sockets from one address (no X-Forwarded-For: the peer 127.0.0.1 is the address)."""
    log = proxied.log_window()
    clients = [WireClient(proxied.url) for _ in range(CAP_SOCKETS)]
    outcomes: list[BaseException | None] = []
    for first in range(0, CAP_SOCKETS, CAP_BATCH):
        outcomes += await connect_all(clients[first : first + CAP_BATCH])
    connected = [c for c, o in zip(clients, outcomes, strict=True) if o is None]
    refused = [c for c, o in zip(clients, outcomes, strict=True) if o is not None]
    try:
        errors = {f"{type(o).__name__}: {o}" for o in outcomes if o is not None}
        assert len(connected) == PROXIED_MAX_CONNECTIONS, errors
        assert len(refused) == CAP_SOCKETS - PROXIED_MAX_CONNECTIONS
        assert all(isinstance(o, socketio.exceptions.ConnectionError) for o in outcomes if o is not None)
        # python-socketio says only "Connection error"; the handshake's status is in the chain.
        assert {handshake_status(o) for o in outcomes if o is not None} == {429}

        # On the wire: the handshake is answered 429 with the reason, never upgraded.
        raw = await RawSocket.open(proxied)
        raw.close()
        assert raw.status == 429, raw.status_line
        assert raw.body.decode() == TOO_MANY_CONNECTIONS
        assert raw.headers["content-type"] == "text/plain; charset=utf-8"

        # The accepted tabs are hydrated and stored; the refused ones left no state behind.
        assert all(state_file(proxied.states, c.token, ROOT_STATE).is_file() for c in connected)
        leftovers = [
            c.token
            for c in refused
            for name in (ROOT_STATE, SIGNUP_STATE)
            if state_file(proxied.states, c.token, name).exists()
        ]
        assert leftovers == []

        # HTTP is not websocket: the routes answer this address as usual while its cap is full.
        async with httpx.AsyncClient(base_url=proxied.url, timeout=WAIT_S) as http:
            assert (await http.get("/ping")).status_code == 200
            page = await http.get("/")
            assert page.status_code == 200 and "<form" in page.text
            created = await http.post(
                "/api/signup",
                json={"name": "Http User", "email": unique_email("capped"), "password": strong_password()},
            )
            assert created.status_code == 201, created.text

        # The 20 still work.
        await asyncio.gather(*(c.barrier() for c in connected))
    finally:
        await close_all(clients)

    # The server tells nothing when it has let go of a socket: retry until a slot is free.
    attempts, deadline = 0, time.monotonic() + WAIT_S
    while True:
        attempts += 1
        again = WireClient(proxied.url)
        try:
            await again.connect()
            break
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        finally:
            await again.close()
    refusals = log.text().count(f"refused a websocket: 127.0.0.1 already holds {PROXIED_MAX_CONNECTIONS}")
    print(
        f"\ncap: {len(connected)} connected, {len(refused)} refused ({sorted(errors)}), raw handshake: "
        f"{raw.status_line!r} {raw.body.decode()!r}; after closing, connected again on attempt {attempts}"
    )
    assert refusals == len(refused) + 1 + (attempts - 1)


FRAME_LIMIT = 64 * 1024  # rxconfig's REFLEX_SOCKET_MAX_HTTP_BUFFER_SIZE default


async def test_a_frame_over_64_kb_closes_its_connection_and_leaves_no_trace(proxied: LimitedServer) -> None:
    """Just under the limit a submit is answered (its password too long); just over, the socket closes."""
    log = proxied.log_window()
    sentinel = f"SENTINEL{uuid.uuid4().hex}"
    password = (sentinel + " ") * ((FRAME_LIMIT + 1024) // (len(sentinel) + 1))
    email = unique_email("oversized")
    under, over = (WireClient(proxied.url, headers=forwarded(a)) for a in new_addresses(2))
    await connect_all([under, over])
    try:
        deltas = await under.submit_and_settle(
            form(name="Under", email=email, password="p" * (FRAME_LIMIT - 1024))
        )
        assert deltas[-1]["errors"] == {"password": "Password must be at most 128 characters."}, deltas

        start = len(over.messages)
        await over.submit(form(name="Over", email=email, password=password))
        await over.wait_closed()
        assert over.messages[start:] == []

        deltas = await under.submit_and_settle(
            form(name="Still Working", email=unique_email("after-big"), password=strong_password())
        )
        assert deltas[-1].get("welcome_name") == "Still Working", deltas

        # What the server does with such a frame, seen on a socket opened by hand.
        raw = await RawSocket.open(proxied, forwarded(new_addresses(1)[0]))
        assert raw.status == 101, raw.status_line
        opcode, opened = await raw.receive()
        assert (opcode, opened[:1]) == (1, b"0"), opened  # engine.io OPEN
        raw.send(b"4" + password.encode())
        opcode, payload = await raw.receive()
        raw.close()
    finally:
        await close_all([under, over])

    assert opcode == 8, (opcode, payload[:100])  # the server closes the websocket
    close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
    print(f"\noversized frame: {len(password):,} chars; the server's close frame: code {close_code}")
    assert proxied.accounts.with_email(email) == []
    assert sentinel not in proxied.app.log_text()
    assert sentinel not in log.compact()


CYCLES = 1000
CYCLE_CONCURRENCY = 10
STATE_FILES_AFTER_EXPIRY = 10
RSS_GROWTH_LIMIT_KB = 50 * 1024


async def test_abandoned_tabs_expire(direct: LimitedServer) -> None:
    """1,000 tabs connect, hydrate and go; their state is dropped after REFLEX_REDIS_TOKEN_EXPIRATION."""
    pid = direct.app.process.pid
    # One tab first, so that lazily loaded code is not counted as growth.
    warm = WireClient(direct.url)
    await warm.connect()
    await warm.close()
    rss_before = process_tree_rss_kb(pid)
    files_before = len(direct.state_files())

    limit = asyncio.Semaphore(CYCLE_CONCURRENCY)
    peak_files = 0
    done = 0

    async def cycle() -> None:
        nonlocal peak_files, done
        async with limit:
            tab = WireClient(direct.url)
            await tab.connect()
            await tab.close()
            done += 1
            if done % 50 == 0:
                peak_files = max(peak_files, len(direct.state_files()))

    started = time.monotonic()
    await asyncio.gather(*(cycle() for _ in range(CYCLES)))
    cycles_s = time.monotonic() - started
    peak_files = max(peak_files, len(direct.state_files()))
    rss_after_cycles = process_tree_rss_kb(pid)

    # Nothing signals an expiry: poll the folder until the state files are gone.
    await eventually(lambda: len(direct.state_files()) <= STATE_FILES_AFTER_EXPIRY, within_s=60)
    expired_in_s = time.monotonic() - started - cycles_s
    files_after = len(direct.state_files())
    rss_after_expiry = process_tree_rss_kb(pid)

    print(
        f"\nabandoned tabs: {CYCLES} cycles in {cycles_s:.1f} s; state files {files_before} before, "
        f"peak {peak_files}, {files_after} after {expired_in_s:.1f} s; server tree RSS "
        f"{rss_before / 1024:.1f} MB before, {rss_after_cycles / 1024:.1f} MB after the cycles "
        f"({(rss_after_cycles - rss_before) / CYCLES:.1f} KB per cycle), "
        f"{rss_after_expiry / 1024:.1f} MB after expiry "
        f"({(rss_after_expiry - rss_before) / CYCLES:.1f} KB per cycle)"
    )
    assert peak_files > STATE_FILES_AFTER_EXPIRY, "the cycles left state to expire"
    assert files_after <= STATE_FILES_AFTER_EXPIRY
    assert rss_after_expiry - rss_before < RSS_GROWTH_LIMIT_KB


def _forged_value(var: str, marker: str) -> object:
    known: dict[str, object] = {
        "welcome_name": "Mallory",
        "errors": {"email": f"forged {marker}"},
        "pending": True,
        "rejections": 99,
        "is_hydrated": False,
        "rx_router_session": {"client_token": str(uuid.uuid4()), "client_ip": "203.0.113.9"},
        "rx_router_headers": {"x_forwarded_for": "203.0.113.9"},
    }
    return known.get(var, {"forged": marker})


def _refused_calls(marker: str) -> list[tuple[str, dict[str, Any]]]:
    """A call of every refused handler: setvar of every var of its state, the others with payloads."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for name in sorted(refused_handlers()):
        state_name, _, handler = name.rpartition(".")
        path = tuple(state_name.split(".")[1:])
        state = State.get_class_substate(path) if path else State
        assert state.get_full_name() == state_name
        if handler == "setvar":
            calls += [(name, {"var_name": v, "value": _forged_value(v, marker)}) for v in sorted(state.vars)]
        elif handler == "update_vars_internal":
            forged = {f"{SIGNUP_STATE}.welcome_name": "Mallory", f"{ROOT_STATE}.is_hydrated": False}
            calls.append((name, {"vars": forged}))
        elif handler == "handle_frontend_exception":
            calls.append((name, {"info": f"Error: forged\nFORGED-{marker}", "component_stack": "x"}))
        else:
            pytest.fail(f"no forged call for {name}: add one")
    return calls


def _compact(text: str) -> str:
    return "".join(text.split())


def _without_router(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deltas without the router vars, which differ between two connections of one tab."""
    return [
        {
            state: {var: value for var, value in changes.items() if "router" not in var}
            for state, changes in (message.get("delta") or {}).items()
        }
        for message in messages
    ]


async def _hydrate_of(tab: WireClient) -> list[dict[str, Any]]:
    start = len(tab.messages)
    await tab.barrier()
    return _without_router(tab.messages[start:])


async def test_refused_and_unknown_handlers_change_nothing(proxied: LimitedServer) -> None:
    """Each forged call closes its socket unanswered; the tab, reopened, is as it was."""
    marker = uuid.uuid4().hex
    address = new_addresses(1)[0]
    async with WireClient(proxied.url, headers=forwarded(address)) as first:
        # What a re-hydrate of this untouched tab looks like (its page-load key already issued).
        baseline = await _hydrate_of(first)

    calls = _refused_calls(marker)
    unknown = [
        (f"{SIGNUP_STATE}.no_such_handler", {"form_data": {"name": "x"}}),
        ("no_such_state.no_such_handler", {}),
        (f"{SIGNUP_STATE}.submit\nFORGED-{marker} INFO account created id=1", {"form_data": {}}),
        (f"\nFORGED-{marker}", {}),
    ]
    log = proxied.log_window()
    for name, payload in calls + unknown:
        # The same tab (its token) each time, as a script replaying it would.
        async with WireClient(proxied.url, token=first.token, headers=forwarded(address)) as tab:
            start = len(tab.messages)
            await tab.emit(name, payload)
            if name == FRONTEND_EXCEPTION:
                # The page's own script-error report: dropped, the socket stays open.
                assert await _hydrate_of(tab) == baseline
                assert tab.connected
            else:
                await tab.wait_closed()
                assert tab.messages[start:] == [], name

    async with WireClient(proxied.url, token=first.token, headers=forwarded(address)) as again:
        # Nothing answered the forged calls; the new hydrate shows the state as it was at first.
        assert await _hydrate_of(again) == baseline
        # The tab behaves as a fresh one: not pending, no welcome, no earlier rejections.
        deltas = await again.submit_and_settle(form(name="", email="not-an-email", password="short"))

    assert deltas[0] == {"pending": True}, deltas
    final = deltas[-1]
    assert set(final["errors"]) == {"name", "email", "password"}, final
    assert final["rejections"] == 1
    assert all("welcome_name" not in d for d in deltas)

    # One fixed line per closed socket; nothing the client sent, no traceback.
    text = log.text()
    compact = log.compact()  # the console wraps long lines at 80 columns
    closed = len(calls) - 1 + len(unknown)
    assert compact.count(_compact(f"hostile event: {REFUSED_HANDLER}")) == len(calls) - 1
    assert compact.count(_compact(f"hostile event: {UNKNOWN_HANDLER}")) == len(unknown)
    assert compact.count("closedawebsocketfrom") == closed
    assert "Mallory" not in text and marker not in compact and "FORGED" not in text
    assert "Traceback" not in text and "Error processing event" not in text
    sent = sum(len(name) + len(json.dumps(payload)) for name, payload in calls + unknown)
    print(
        f"\nrefused and unknown handlers: {closed} sockets closed ({sent} bytes of name and payload) "
        f"wrote {len(text.encode())} bytes of log"
    )
