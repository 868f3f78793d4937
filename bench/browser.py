"""A simulated browser tab: Reflex's socket.io protocol spoken directly over one aiohttp websocket.

It connects exactly as the compiled frontend does (see tests/wire/client.py, captured
from Chromium): `/_event/?token=<uuid>` over the websocket transport, the boot event
`hydrate_and_load` with the hashes of the compiled initial state in the socket.io
CONNECT packet next to the frontend's state schema, then events as
`42/_event,["event",{name, payload, router_data}]`. It answers Engine.IO pings as the
browser does. One small object per tab (no socket.io client, no per-tab HTTP session)
so that one process can hold thousands of tabs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

NAMESPACE = "/_event"
ROUTER_DATA = {"pathname": "/", "asPath": "/"}
FIELD_MARKER = "_rx_state_"
WAIT_S = 30.0

Delta = dict[str, dict[str, Any]]


class ProtocolError(Exception):
    """The server answered something a browser would not accept."""


@functools.cache
def app_protocol() -> dict[str, Any]:
    """What the compiled frontend knows about the app: state names, initial-state hashes, schema."""
    from reflex.state import OnLoadInternalState, State, _resolve_delta, state_snapshot_hashes
    from reflex_base.constants import Reflex
    from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY

    import signup_app.signup_app  # noqa: F401  (registers every state the compiled frontend knows)
    from signup_app.web.pages.signup import SignupState

    async def snapshot() -> Delta:
        return await _resolve_delta(State(_reflex_internal_init=True).dict(initial=True))

    root = State.get_full_name()
    return {
        "version": Reflex.VERSION,
        "root_state": root,
        "signup_state": SignupState.get_full_name(),
        "hydrate_event": f"{root}.hydrate_and_load",
        "cheap_event": f"{OnLoadInternalState.get_full_name()}.set_is_hydrated",
        "submit_event": f"{SignupState.get_full_name()}.submit",
        "hashes": state_snapshot_hashes(asyncio.run(snapshot())),
        "state_schema": State._to_frontend_schema(),
        "form_entries_key": FORM_DATA_ENTRIES_KEY,
    }


def state_vars(delta: Delta, state_name: str) -> dict[str, Any] | None:
    """One state's vars in a delta, with Reflex's var suffix removed."""
    changes = delta.get(state_name)
    if changes is None:
        return None
    return {name.removesuffix(FIELD_MARKER): value for name, value in changes.items()}


class Tab:
    """One browser tab on the signup page: a token, a websocket, and at most one awaited answer."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        protocol: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        self._session = session
        self._headers = headers or {}
        self._base_url = base_url
        self._protocol = protocol
        self.token = str(uuid.uuid4())
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._connected: asyncio.Future | None = None
        self._waiting: tuple[Callable[[Delta], Any], asyncio.Future] | None = None
        self.closed_by_server = False

    @property
    def open(self) -> bool:
        return self._ws is not None and not self._ws.closed and not self.closed_by_server

    async def connect(self) -> None:
        """Open the websocket with the boot event, as the page does on load, and wait until hydrated."""
        p = self._protocol
        ws_url = self._base_url.replace("http", "ws", 1)
        self._ws = await self._session.ws_connect(
            f"{ws_url}/_event/?token={self.token}&EIO=4&transport=websocket",
            headers={"Origin": self._base_url, "Sec-WebSocket-Protocol": p["version"], **self._headers},
            timeout=aiohttp.ClientWSTimeout(ws_close=5),
            autoping=True,
            max_msg_size=0,
        )
        opening = await asyncio.wait_for(self._ws.receive(), WAIT_S)
        if opening.type != aiohttp.WSMsgType.TEXT or not opening.data.startswith("0"):
            raise ProtocolError(f"expected the Engine.IO open packet, got {opening.data!r}")
        loop = asyncio.get_running_loop()
        self._connected = loop.create_future()
        hydrated = self._expect(self.is_hydrated)
        self._reader = asyncio.create_task(self._read())
        boot = {"name": p["hydrate_event"], "payload": {"hashes": p["hashes"]}, "router_data": ROUTER_DATA}
        auth = {"event": boot, "state_schema": p["state_schema"]}
        await self._ws.send_str(f"40{NAMESPACE},{json.dumps(auth)}")
        await asyncio.wait_for(self._connected, WAIT_S)
        await asyncio.wait_for(hydrated, WAIT_S)

    async def emit(self, name: str, payload: dict[str, Any]) -> None:
        """Send one event, shaped as the browser's."""
        assert self._ws is not None
        event = {"name": name, "payload": payload, "router_data": ROUTER_DATA}
        await self._ws.send_str(f"42{NAMESPACE},{json.dumps(['event', event])}")

    async def cheap_event(self) -> None:
        """Reflex's own `set_is_hydrated(True)` on its on-load leaf state; answered by `is_hydrated`.

        It ends the on-load chain the page runs on each navigation. On a hydrated tab it
        changes nothing and still answers with a one-var delta: one small event, one lock of
        a leaf state, no app code. (The page's `on_load_internal` itself now runs the
        page's on_load handler too, so it is a chain of three events.)
        """
        answered = self._expect(self.is_hydrated)
        await self.emit(self._protocol["cheap_event"], {"value": True})
        await asyncio.wait_for(answered, WAIT_S)

    async def submit(self, fields: dict[str, str]) -> dict[str, Any]:
        """Submit the signup form; returns SignupState's vars from the delta that ends the submit."""
        p = self._protocol
        answered = self._expect(self.submit_settled)
        entries = [[name, value] for name, value in fields.items()]
        await self.emit(p["submit_event"], {"form_data": {p["form_entries_key"]: entries}})
        return await asyncio.wait_for(answered, WAIT_S)

    def is_hydrated(self, delta: Delta) -> bool | None:
        return (state_vars(delta, self._protocol["root_state"]) or {}).get("is_hydrated") is True or None

    def submit_settled(self, delta: Delta) -> dict[str, Any] | None:
        changes = state_vars(delta, self._protocol["signup_state"]) or {}
        return changes if changes.get("pending") is False else None

    async def close(self) -> None:
        """Close the tab."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    def _expect(self, predicate: Callable[[Delta], Any]) -> asyncio.Future:
        """A future for the first delta from now on for which predicate returns a value."""
        future = asyncio.get_running_loop().create_future()
        self._waiting = (predicate, future)
        return future

    async def _read(self) -> None:
        assert self._ws is not None
        ws = self._ws
        try:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                data: str = message.data
                if data == "2":  # Engine.IO ping
                    await ws.send_str("3")
                elif data.startswith("42"):
                    self._on_event(data)
                elif data.startswith(f"40{NAMESPACE},"):
                    if self._connected is not None and not self._connected.done():
                        self._connected.set_result(None)
                elif data.startswith(f"44{NAMESPACE},") or data.startswith(f"41{NAMESPACE}"):
                    self._fail(ProtocolError(f"the server refused or ended the connection: {data[:200]}"))
        finally:
            self.closed_by_server = True
            self._fail(ProtocolError(f"the websocket closed (code {ws.close_code}, {ws.exception()!r})"))

    def _on_event(self, data: str) -> None:
        name, *args = json.loads(data[data.index("[") :])
        if name != "event" or not args or self._waiting is None:
            return
        predicate, future = self._waiting
        if future.done():
            return
        result = predicate(args[0].get("delta") or {})
        if result is not None:
            self._waiting = None
            future.set_result(result)

    def _fail(self, error: Exception) -> None:
        for future in (self._connected, self._waiting[1] if self._waiting else None):
            if future is not None and not future.done():
                future.set_exception(error)
