"""Closes a websocket at its first hostile event, with one WARNING line and no client text.

A browser running the compiled page only sends well-formed events naming the
handlers in handler_allowlist.callable_handlers(), with arguments those handlers take. Anything
else (an unknown or refused handler, an event that is not an object, a payload
Reflex cannot convert, a packet that does not decode) comes from a script. Left to
Reflex, such an event is logged at ERROR with a traceback and the event quoted
(payload included), as often as the client cares to send it. Here it is checked
before Reflex sees it: the socket is closed after the first one, and one fixed line
names the peer and the reason, never anything the client sent.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import ipaddress
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from reflex.app import EventNamespace
from reflex.state import FrontendEventExceptionState, State
from reflex_base import constants

# Reflex's own conversion of event arguments to the handler's annotations (reflex==0.10.1 is
# pinned): running it here finds the payloads it would fail on, and log, before it does.
from reflex_base.event.processor.base_state_processor import (
    _transform_event_payload,  # pyright: ignore[reportPrivateUsage]
)
from reflex_base.utils import types
from socketio.exceptions import ConnectionRefusedError as SocketConnectionRefused

from signup_app.web import signing_in
from signup_app.web.client_address import scope_address
from signup_app.web.handler_allowlist import callable_handlers, refused_handlers

if TYPE_CHECKING:
    from reflex.app import App
    from reflex_base.event import EventHandler
    from socketio import AsyncServer

logger = logging.getLogger(__name__)

# Why a socket was closed: fixed texts, the only thing about the event that is logged.
NOT_AN_OBJECT = "the event is not a JSON object"
NO_NAME = "the event has no handler name"
NO_PAYLOAD = "the event's payload is not an object"
BAD_ROUTER_DATA = "the event's router data is malformed"
UNKNOWN_HANDLER = "the event names an unknown handler"
REFUSED_HANDLER = "the event names a handler that is not callable"
BAD_ARGUMENT_NAMES = "the event's arguments do not fit the handler"
BAD_ARGUMENT_VALUES = "the event's arguments cannot be converted for the handler"
EXTRA_ARGUMENTS = "the socket event carries more arguments than the page sends"
NO_TOKEN = "the connection has no token"  # noqa: S105  (a log text, not a secret)
UNKNOWN_SOCKET_EVENT = "an unknown socket.io event"
LIFECYCLE_EVENT = "a connect or disconnect event sent by the client"
BAD_PACKET = "a socket.io packet that does not decode"
BINARY_PACKET = "a binary socket.io packet"

# The socket.io events the page's JavaScript emits or that the server raises itself.
_SOCKET_EVENTS = frozenset(
    {"connect", "disconnect", "event", "ping", str(constants.SocketEvent.CLIENT_ERROR)}
)
_LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})
# The page's own report of a script error: refused, but a browser sends it without being hostile.
FRONTEND_EXCEPTION = f"{FrontendEventExceptionState.get_full_name()}.handle_frontend_exception"
# Router data keys the page sends, and the type each must have when present.
_ROUTER_DATA_TYPES: Mapping[str, type] = {"pathname": str, "asPath": str, "query": dict}


def _handlers() -> dict[str, EventHandler]:
    """The callable handlers by full name."""
    return _resolve(callable_handlers())


@functools.cache
def _resolve(names: frozenset[str]) -> dict[str, EventHandler]:
    """The handlers by full name (resolved once per set of states)."""
    handlers = {}
    for name in names:
        state_name, _, handler = name.rpartition(".")
        path = tuple(state_name.split(".")[1:])
        state = State.get_class_substate(path) if path else State
        handlers[name] = state.event_handlers[handler]
    return handlers


@functools.cache
def _signature(handler: EventHandler) -> inspect.Signature:
    return inspect.signature(handler.fn)


def _arguments_fault(handler: EventHandler, payload: dict[str, Any]) -> str | None:
    """Why Reflex could not call the handler with this payload, or None if it can."""
    try:
        # The state goes in first, as Reflex passes it.
        _signature(handler).bind(None, **payload)
    except TypeError:
        return BAD_ARGUMENT_NAMES
    hints = handler._type_hints  # pyright: ignore[reportPrivateUsage]  (Reflex's own cache of them)
    try:
        if hints is None:
            hints = types.get_type_hints(handler.fn)
        _transform_event_payload(payload, hints)
    except Exception:  # noqa: BLE001  (any failure there is Reflex logging the payload)
        return BAD_ARGUMENT_VALUES
    return None


def _router_data_fault(router_data: object) -> str | None:
    if not isinstance(router_data, dict):
        return BAD_ROUTER_DATA
    for key, kind in _ROUTER_DATA_TYPES.items():
        if key in router_data and not isinstance(router_data[key], kind):
            return BAD_ROUTER_DATA
    query = router_data.get("query", {})
    if not all(isinstance(key, str) for key in query):
        return BAD_ROUTER_DATA
    return None


def hostile_reason(data: object) -> str | None:
    """Why an event is hostile (one of the fixed texts above), or None for one the page could send.

    The page's frontend-exception report is not hostile (a browser sends it on any script
    error) but is not callable either: see is_dropped.
    """
    if not isinstance(data, dict):
        return NOT_AN_OBJECT
    name = data.get("name")
    if not isinstance(name, str):
        return NO_NAME
    # The page leaves the payload out when it is empty (reflex's ReflexEvent): a reconnect's
    # hydrate, a handler without arguments. Anything but an object is hostile.
    payload = data.get("payload", {})
    if not isinstance(payload, dict):
        return NO_PAYLOAD
    if "router_data" in data and (fault := _router_data_fault(data["router_data"])):
        return fault
    if name == FRONTEND_EXCEPTION:
        return None
    handler = _handlers().get(name)
    if handler is None:
        return REFUSED_HANDLER if name in refused_handlers() else UNKNOWN_HANDLER
    return _arguments_fault(handler, payload)


def is_dropped(data: dict[str, Any]) -> bool:
    """Whether a well-formed event is dropped unseen: the page's own script-error reports."""
    return data["name"] == FRONTEND_EXCEPTION


def _peer(environ: Mapping[str, Any] | None) -> str:
    """The client's address for the log line: an IP address, or "unknown"; never header text."""
    if not environ:
        return "unknown"
    address = scope_address(environ.get("asgi.scope") or {})
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "unknown"


class LogBudget:
    """At most `lines` lines per `window_s` seconds; what went unlogged is counted, and said later."""

    def __init__(self, lines: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lines, self.window_s, self._clock = lines, window_s, clock
        self._start, self._used, self._unlogged = clock(), 0, 0

    def take(self) -> tuple[bool, int]:
        """Whether this line may be written, and how many went unlogged before it (to say so first)."""
        now = self._clock()
        if now - self._start >= self.window_s:
            self._start, self._used = now, 0
        if self._used >= self.lines:
            self._unlogged += 1
            return False, 0
        self._used += 1
        unlogged, self._unlogged = self._unlogged, 0
        return True, unlogged


# Per process: one line per hostile socket, but a reconnecting script gets no more than this.
LOG_LINES_PER_MINUTE = 100
_budget = LogBudget(LOG_LINES_PER_MINUTE, 60.0)


def _log(environ: Mapping[str, Any] | None, reason: str) -> None:
    allowed, unlogged = _budget.take()
    if not allowed:
        return
    if unlogged:
        logger.warning(
            "closed %d more hostile websockets without a line each (over %d in %.0f s)",
            unlogged,
            _budget.lines,
            _budget.window_s,
        )
    logger.warning("closed a websocket from %s after a hostile event: %s", _peer(environ), reason)


# Transport closes scheduled after a refused handshake (kept referenced until done).
_closing: set[asyncio.Task[None]] = set()


class GuardedEventNamespace(EventNamespace):
    """Reflex's event namespace, closing the socket at the first event the page could not send."""

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Dispatch a socket.io event; an event name the page never emits closes the socket."""
        if event not in _SOCKET_EVENTS:
            await self._close(args[0], UNKNOWN_SOCKET_EVENT)
            return None
        # python-socketio raises connect and disconnect while the socket is connecting or leaving;
        # on a connected socket they are packets the client sent (with its own "environ").
        if event in _LIFECYCLE_EVENTS and self._server.manager.is_connected(args[0], self.namespace):
            await self._close(args[0], LIFECYCLE_EVENT)
            return None
        return await super().trigger_event(event, *args)

    async def on_ping(self, sid: str, *extra: Any) -> None:
        """Reflex's pong; arguments the page never sends close the socket."""
        if extra:
            await self._close(sid, EXTRA_ARGUMENTS)
            return
        await super().on_ping(sid)

    async def on_client_error(self, sid: str, data: Any = None, *extra: Any) -> None:
        """Reflex's (rate-limited) client error report; more arguments than one close the socket."""
        if extra:
            await self._close(sid, EXTRA_ARGUMENTS)
            return
        await super().on_client_error(sid, data)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Refuse a handshake without a token or with a hostile boot event; otherwise Reflex's connect."""
        boot = auth.get(constants.CompileVars.CONNECT_AUTH_EVENT) if isinstance(auth, dict) else None
        reason = None
        if not urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("token"):
            reason = NO_TOKEN
        elif boot is not None:
            reason = hostile_reason(boot)
        if reason is not None:
            _log(environ, reason)
            # Refusing the namespace leaves the transport open for another try: close it too,
            # once the refusal is sent.
            if (eio_sid := self._server.manager.eio_sid_from_sid(sid, self.namespace)) is not None:
                task = asyncio.create_task(self._server.eio.disconnect(eio_sid))
                _closing.add(task)
                task.add_done_callback(_closing.discard)
            raise SocketConnectionRefused
        await super().on_connect(sid, environ, auth)

    def _build_static_router_data(self, sid: str, environ: dict[str, Any]) -> dict[str, Any]:
        """Reflex's per-connection router data, without the Cookie header.

        Reflex keeps router data in the tab's state, which can be saved (to Redis, or disk): the
        sign-in token would be saved with it. The connection's token is kept in this
        worker's memory instead, for as long as the socket is open (signing_in.connection_viewer).
        """
        data = super()._build_static_router_data(sid, environ)
        signing_in.remember_connection(sid, data[constants.RouteVar.HEADERS].pop("cookie", None))
        return data

    def on_disconnect(self, sid: str) -> asyncio.Task[None] | None:
        """Reflex's disconnect; the connection's sign-in token is forgotten."""
        signing_in.forget_connection(sid)
        return super().on_disconnect(sid)

    async def on_event(self, sid: str, data: Any = None, *extra: Any) -> None:
        """Check an event before Reflex parses it; close the socket if it is hostile."""
        if extra:
            reason = EXTRA_ARGUMENTS
        elif sid not in self.sid_to_token:
            reason = NO_TOKEN
        else:
            reason = hostile_reason(data)
        if reason is not None:
            await self._close(sid, reason)
            return
        if is_dropped(data):
            return
        await super().on_event(sid, data)

    @property
    def _server(self) -> AsyncServer:
        """The Socket.IO server this namespace is registered with."""
        if self.server is None:
            raise RuntimeError("the guarded namespace is not registered with a server")
        return self.server

    async def _close(self, sid: str, reason: str) -> None:
        server = self._server
        _log(server.get_environ(sid, self.namespace), reason)
        eio_sid = server.manager.eio_sid_from_sid(sid, self.namespace)
        # The namespace first (the client is told the server closed it), then the transport:
        # a script cannot reopen the namespace over the same connection.
        await self.disconnect(sid)
        if eio_sid is not None:
            await server.eio.disconnect(eio_sid)


def _guard_packets(server: AsyncServer) -> None:
    """Close the connection at a packet that does not decode, instead of logging a traceback."""
    dispatch = server._handle_eio_message  # pyright: ignore[reportPrivateUsage]  (wrapped, not replaced)

    async def on_message(eio_sid: str, data: str | bytes) -> None:
        if eio_sid not in server.environ:
            # Already closed (e.g. the rest of a frame batch after a hostile packet): nothing to say.
            return
        # The page sends text packets only; binary ones (types 5 and 6) carry attachments.
        if isinstance(data, bytes) or data[:1] in ("5", "6"):
            reason: str | None = BINARY_PACKET
        else:
            reason = None
            try:
                await dispatch(eio_sid, data)
            except (ValueError, RecursionError):
                # python-socketio's parse errors (bad JSON, unknown packet type) are ValueErrors;
                # JSON nested deeper than the interpreter's recursion limit is a RecursionError.
                reason = BAD_PACKET
        if reason is not None:
            _log(server.environ.get(eio_sid), reason)
            await server.eio.disconnect(eio_sid)

    server.eio.on("message", on_message)


def install(app: App) -> None:
    """Put the guarded namespace in place of Reflex's, and guard packet decoding."""
    current, server = app.event_namespace, app.sio
    if current is None or server is None:
        return
    guarded = GuardedEventNamespace(current.namespace, app)
    app._event_namespace = guarded  # pyright: ignore[reportPrivateUsage]  (Reflex has no setter)
    server.register_namespace(guarded)
    _guard_packets(server)
