"""A Reflex websocket client that talks to the signup app exactly as the browser does.

Captured from Chromium against `reflex run --env prod` (0.10.1): the browser opens `/_event/?token=<uuid>`
with its boot event (`hydrate_and_load`, the initial state's hashes) and state schema in the CONNECT packet;
the server answers with the snapshot, then `is_hydrated` true. Events go as `["event", {name, payload,
router_data}]` on `/_event`; updates come back as `{"delta": {state: {var: value}}, "events": [...]}`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import engineio.json
import socketio
import socketio.packet
from multidict import CIMultiDict
from reflex.state import State
from reflex_base.constants import Reflex
from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY

import signup_app.signup_app  # noqa: F401  (registers every state the compiled frontend knows)
from signup_app.web.pages.signup import SignupState
from tests.harness.protocol import NAMESPACE, app_protocol, connect_auth, delta_vars, event

SOCKETIO_PATH = "_event"
ROOT_STATE = State.get_full_name()
SIGNUP_STATE = SignupState.get_full_name()
SUBMIT_EVENT = f"{SIGNUP_STATE}.submit"
HYDRATE_EVENT = f"{ROOT_STATE}.hydrate_and_load"
# How long any one wait for the server's answer may take.
WAIT_S = 20.0

Message = dict[str, Any]


async def _protocol() -> dict[str, Any]:
    return await asyncio.to_thread(app_protocol)  # it runs an event loop of its own: not in this one


def form(**fields: object) -> dict[str, list[list[object]]]:
    """Form data as the browser wraps it: its [name, value] entries in order."""
    return {FORM_DATA_ENTRIES_KEY: [[name, value] for name, value in fields.items()]}


def state_vars(message: Message, state_name: str = SIGNUP_STATE) -> dict[str, Any] | None:
    """One state's vars in a message's delta, with Reflex's var suffix removed."""
    return delta_vars(message.get("delta") or {}, state_name)


def _hydrated(message: Message) -> bool:
    return (state_vars(message, ROOT_STATE) or {}).get("is_hydrated") is True


def settled(message: Message) -> bool:
    """Whether a message ends a submit: SignupState's pending flag back to false."""
    return (state_vars(message) or {}).get("pending") is False


@dataclass
class WireClient:
    """One browser tab: a token, a socket.io connection and every frame the server sent it."""

    base_url: str
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    origin: str | None = None  # the handshake's Origin; the browser sends its page's (base_url)
    # More handshake headers, e.g. X-Forwarded-For as a proxy adds (a CIMultiDict repeats a header).
    headers: Mapping[str, str] = field(default_factory=dict)
    frames: list[str] = field(default_factory=list)  # raw socket.io packets received, CONNECT ack too
    reconnect: bool = False  # connect as the page reconnects (its hydrate without a payload)
    received: list[tuple[str, Any]] = field(default_factory=list)  # decoded (event name, data) pairs

    def __post_init__(self) -> None:
        self._changed = asyncio.Condition()
        self._sio = _RecordingClient(self._on_frame, reconnection=False, serializer=_Packet)
        self._sio.on("*", self._on_event, namespace=NAMESPACE)

    @property
    def messages(self) -> list[Message]:
        """The `event` messages (state updates) received so far."""
        return [data for name, data in self.received if name == "event"]

    async def connect(self) -> None:
        """Connect with the browser's boot event and wait until the tab is hydrated."""
        await self._sio.connect(
            f"{self.base_url}?token={self.token}",
            headers=self._handshake_headers(),
            auth=connect_auth(await _protocol(), first=not self.reconnect),
            transports=["websocket"],
            namespaces=[NAMESPACE],
            socketio_path=SOCKETIO_PATH,
            wait_timeout=WAIT_S,
        )
        await self.wait_for(_hydrated)

    async def __aenter__(self) -> Self:
        """The tab connected and hydrated; closed again if that fails."""
        try:
            await self.connect()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _handshake_headers(self) -> CIMultiDict[str]:
        """The browser's handshake headers, replaced by self.headers (whose repeated names stay repeated)."""
        browser = {"Origin": self.origin or self.base_url, "Sec-WebSocket-Protocol": Reflex.VERSION}
        headers = CIMultiDict(browser)
        for name in {name.lower() for name in self.headers}:
            headers.popall(name, None)
        headers.extend(self.headers.items())
        return headers

    async def barrier(self) -> None:
        """Hydrate again and wait for it: the tab's earlier events (run in turn, under a lock) are saved."""
        start = len(self.messages)
        await self.emit(HYDRATE_EVENT, {"hashes": (await _protocol())["hashes"]})
        await self.wait_for(_hydrated, start)

    async def close(self) -> None:
        """Disconnect, as closing the tab does."""
        await self._sio.disconnect()
        # A refused handshake leaves engine.io's HTTP session open; close it too.
        http = self._sio.eio.http
        if http is not None and not http.closed:
            await http.close()

    @property
    def connected(self) -> bool:
        """Whether the socket is still open."""
        return self._sio.connected

    async def wait_closed(self) -> None:
        """Wait up to WAIT_S until the connection ends (the client never reconnects by itself)."""
        async with asyncio.timeout(WAIT_S):
            # engine.io's read loop ends with the connection (socketio's wait() adds a 1 s pause).
            await self._sio.eio.wait()

    async def emit(self, name: str, payload: object) -> None:
        """Send one event, shaped as the browser's."""
        await self._sio.emit("event", event(name, payload), namespace=NAMESPACE)

    async def emit_socket(self, event: str, *args: object) -> None:
        """Emit any socket.io event with any arguments (the browser only emits "event" with one)."""
        await self._sio.emit(event, args if len(args) != 1 else args[0], namespace=NAMESPACE)

    async def send_packet(self, packet: str | bytes) -> None:
        """Send one raw socket.io packet (e.g. '2/_event,["event",{...}]') as an engine.io message."""
        await self._sio.eio.send(packet)

    async def submit(self, form_data: object, extra: Mapping[str, object] | None = None) -> int:
        """Submit the signup form (extra: more payload keys); returns the index of its first answer."""
        start = len(self.messages)
        await self.emit(SUBMIT_EVENT, {"form_data": form_data, **(extra or {})})
        return start

    async def submit_and_settle(
        self, form_data: object, extra: Mapping[str, object] | None = None
    ) -> list[dict[str, Any]]:
        """Submit, wait for `pending` to go back to false, and return the signup deltas in order."""
        start = await self.submit(form_data, extra)
        await self.wait_for(settled, start)
        return self.signup_deltas(start)

    def signup_deltas(self, start: int = 0) -> list[dict[str, Any]]:
        """The SignupState deltas among the messages from index `start` on."""
        return [d for m in self.messages[start:] if (d := state_vars(m)) is not None]

    async def wait_for(self, predicate: Callable[[Message], bool], start: int = 0) -> Message:
        """The first message from index `start` on that satisfies predicate, waiting up to WAIT_S."""
        async with asyncio.timeout(WAIT_S), self._changed:
            while True:
                for message in self.messages[start:]:
                    if predicate(message):
                        return message
                await self._changed.wait()

    def frontend_events(self) -> Iterator[dict[str, Any]]:
        """The frontend events (toasts, alerts, redirects) the server asked the tab to run."""
        for message in self.messages:
            yield from message.get("events") or []

    async def _on_event(self, name: str, data: Any = None) -> None:
        self.received.append((name, data))
        async with self._changed:
            self._changed.notify_all()

    def _on_frame(self, frame: str | bytes) -> None:
        self.frames.append(frame if isinstance(frame, str) else frame.decode("utf-8", "replace"))


class _Packet(socketio.packet.Packet):
    """python-socketio's packet with its default json (importing the app gives the shared one Reflex's)."""

    json = engineio.json


class _RecordingClient(socketio.AsyncClient):
    """A socket.io client that hands every raw packet from the server to a recorder first."""

    def __init__(self, record: Callable[[str | bytes], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._record = record

    async def _handle_eio_message(self, data: str | bytes) -> None:
        # python-socketio's single entry point for server packets (5.x).
        self._record(data)
        await super()._handle_eio_message(data)
