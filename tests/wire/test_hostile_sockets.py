"""A websocket that sends what the page never sends (with a sentinel in it) is closed after that one
event and logged in one WARNING line, with no traceback or client text; another tab is still answered."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import engineio
import pytest
from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY

from signup_app.web.hostile_events import FRONTEND_EXCEPTION
from tests.harness.client import NAMESPACE, ROOT_STATE, SIGNUP_STATE, SUBMIT_EVENT, WAIT_S, WireClient, form
from tests.harness.protocol import ROUTER_DATA
from tests.harness.server import AppServer
from tests.harness.wire import ClientFactory, LogWindow

pytestmark = pytest.mark.wire

# Found in the log without whitespace: the console wraps long lines at 80 columns.
CLOSED_LINE = re.compile(r"closedawebsocketfrom\S+?afterahostileevent:")
LOUDER = re.compile(r"^(Error|Critical)\b", re.MULTILINE)
# Log bytes one hostile connection may cost, and how much two frame sizes' costs may differ.
MAX_LOG_BYTES = 1024
SIZE_INDEPENDENCE_BYTES = 16

Send = Callable[[WireClient, str], Coroutine[Any, Any, None]]


def _event(name: str, payload: object) -> dict[str, object]:
    return {"name": name, "payload": payload, "router_data": dict(ROUTER_DATA)}


def _packet(*args: object) -> str:
    """A socket.io EVENT packet on the app's namespace, encoded by hand."""
    return f"2{NAMESPACE}," + json.dumps(["event", *args])


def _nested_packet(text: str, depth: int) -> str:
    """An event whose payload nests lists deeper than Python's recursion limit (about 40 KB)."""
    return (
        f'2{NAMESPACE},["event", {{"name": "{text}", "payload": {{"x": ' + "[" * depth + "]" * depth + "}}]"
    )


@dataclass(frozen=True)
class Hostile:
    id: str
    send: Send


HOSTILE = [
    Hostile(
        "unknown-handler",
        lambda c, s: c.emit(f"{SIGNUP_STATE}.no_such_handler", {"form_data": form(password=s)}),
    ),
    Hostile("unknown-state", lambda c, s: c.emit(f"{ROOT_STATE}.no_such_state.submit", {"password": s})),
    Hostile(
        "refused-setvar",
        lambda c, s: c.emit(f"{SIGNUP_STATE}.setvar", {"var_name": "welcome_name", "value": s}),
    ),
    Hostile("event-not-json", lambda c, s: c.emit_socket("event", '{"name": "' + s)),
    Hostile(
        "event-json-string", lambda c, s: c.emit_socket("event", json.dumps(_event(SUBMIT_EVENT, {"p": s})))
    ),
    Hostile("event-not-object", lambda c, s: c.emit_socket("event", [SUBMIT_EVENT, {"password": s}])),
    Hostile("event-payload-null", lambda c, s: c.emit_socket("event", {"name": SUBMIT_EVENT, "payload": None, "p": s})),
    Hostile("payload-not-object", lambda c, s: c.emit(SUBMIT_EVENT, [s, {"password": s}])),
    Hostile("unexpected-argument", lambda c, s: c.emit(f"{SIGNUP_STATE}.issue_signup_key", {"password": s})),
    Hostile(
        "unconvertible-argument",
        lambda c, s: c.emit(SUBMIT_EVENT, {"form_data": {FORM_DATA_ENTRIES_KEY: f"password={s}"}}),
    ),
    Hostile(
        "router-data-not-object",
        lambda c, s: c.emit_socket("event", {**_event(SUBMIT_EVENT, {}), "router_data": [s]}),
    ),
    # The frame that froze a worker through the log's redaction pattern.
    Hostile("backslash-name", lambda c, s: c.emit('"password": "' + "\\" * 40, {"password": s})),
    Hostile("two-arguments", lambda c, s: c.send_packet(_packet(_event(SUBMIT_EVENT, {}), s))),
    Hostile("packet-not-json", lambda c, s: c.send_packet(f'2{NAMESPACE},["event", {{"name": "{s}"')),
    Hostile("packet-nested-deep", lambda c, s: c.send_packet(_nested_packet(s, 20_000))),
    Hostile("binary-packet", lambda c, s: c.emit(SUBMIT_EVENT, {"form_data": s.encode()})),
    Hostile("unknown-socket-event", lambda c, s: c.emit_socket("no_such_event", {"password": s})),
    Hostile("ping-with-argument", lambda c, s: c.emit_socket("ping", s)),
    Hostile("client-error-two-arguments", lambda c, s: c.emit_socket("client_error", {"error_type": s}, s)),
    # Reserved names sent as events: Reflex would take the client's dict for the connection's environ.
    Hostile(
        "client-sent-connect",
        lambda c, s: c.emit_socket(
            "connect", {"QUERY_STRING": f"token={s}", "asgi.scope": {"client": ["203.0.113.7", 1]}}, None
        ),
    ),
    Hostile("client-sent-disconnect", lambda c, s: c.emit_socket("disconnect", s)),
]


def _sentinel() -> str:
    return f"SENTINEL{uuid.uuid4().hex}"


async def _close_after(send: Send, client: WireClient, text: str) -> None:
    start = len(client.messages)
    await send(client, text)
    await client.wait_closed()
    assert not client.connected
    assert client.messages[start:] == [], "the hostile event was answered"


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.id for h in HOSTILE])
async def test_a_hostile_event_closes_the_socket_and_is_logged_once(
    hostile: Hostile, app_server: AppServer, connect: ClientFactory
) -> None:
    bystander = await connect()
    client = await connect()
    sentinel = _sentinel()
    log = LogWindow(app_server, len(app_server.log_text()))

    await _close_after(hostile.send, client, sentinel)
    # The other tab's next event is answered.
    await bystander.barrier()
    assert bystander.connected

    text = log.text()
    assert len(CLOSED_LINE.findall(log.compact())) == 1, text
    # Reflex's console prints a record's level as its prefix.
    [line] = [line for line in text.splitlines() if "hostile event" in line]
    assert line.startswith("Warning: "), line
    assert "Traceback" not in text and not LOUDER.search(text), text
    assert sentinel not in text and sentinel not in log.compact()
    assert "password" not in text.lower(), text


async def test_a_hostile_boot_event_refuses_the_handshake_and_closes_the_transport(
    app_server: AppServer,
) -> None:
    sentinel = _sentinel()
    log = LogWindow(app_server, len(app_server.log_text()))
    boot = _event(f"{SIGNUP_STATE}.setvar", {"var_name": "welcome_name", "value": sentinel})
    # Engine.io only, to see the transport itself closed after the refused namespace CONNECT.
    transport = engineio.AsyncClient()
    received: list[str] = []
    transport.on("message", received.append)
    await transport.connect(
        f"{app_server.url}?token={uuid.uuid4()}",
        headers={"Origin": app_server.url},
        transports=["websocket"],
        engineio_path="_event",
    )
    try:
        await transport.send(f"0{NAMESPACE}," + json.dumps({"event": boot}))
        async with asyncio.timeout(WAIT_S):
            await transport.wait()
    finally:
        await transport.disconnect()
    assert [m[:1] for m in received] == ["4"], received  # socket.io CONNECT_ERROR, then the close
    text = log.text()
    assert len(CLOSED_LINE.findall(log.compact())) == 1, text
    assert sentinel not in text and "Traceback" not in text


async def test_the_pages_script_error_report_is_dropped_without_closing(
    app_server: AppServer, connect: ClientFactory
) -> None:
    """A browser reports any script error as an event: refused, but the tab keeps its socket."""
    client = await connect()
    sentinel = _sentinel()
    log = LogWindow(app_server, len(app_server.log_text()))
    await client.emit(FRONTEND_EXCEPTION, {"info": f"Error: {sentinel}", "component_stack": ""})
    await client.barrier()
    assert client.connected
    assert sentinel not in log.text() and not CLOSED_LINE.search(log.compact())


GRANIAN_CLOSED_WRITE = "Attempted to write to a closed websocket"


async def _log_bytes_of_one_hostile_connection(
    app_server: AppServer, connect: ClientFactory, size: int
) -> int:
    bystander = await connect()
    client = await connect()
    log = LogWindow(app_server, len(app_server.log_text()))
    padding = "x" * size
    await _close_after(lambda c, s: c.emit(f"{SIGNUP_STATE}.no_such_handler", {"pad": s}), client, padding)
    await bystander.barrier()
    text = log.text()
    assert len(CLOSED_LINE.findall(log.compact())) == 1, text
    # Granian's own note when a write meets a socket already closed (this one's, or an earlier
    # test's) lands in the window or not, by timing: at most once, and not counted.
    lines = text.splitlines(keepends=True)
    late = [line for line in lines if GRANIAN_CLOSED_WRITE in line]
    assert len(late) <= 1, text
    return sum(len(line.encode()) for line in lines if GRANIAN_CLOSED_WRITE not in line)


async def test_log_bytes_per_hostile_connection_are_bounded_and_independent_of_the_frame(
    app_server: AppServer, connect: ClientFactory
) -> None:
    small = await _log_bytes_of_one_hostile_connection(app_server, connect, 100)
    large = await _log_bytes_of_one_hostile_connection(app_server, connect, 60 * 1024)
    print(f"\nlog bytes per hostile connection: {small} (100 B payload), {large} (60 KB payload)")
    assert 0 < small < MAX_LOG_BYTES
    assert 0 < large < MAX_LOG_BYTES
    assert abs(large - small) <= SIZE_INDEPENDENCE_BYTES
