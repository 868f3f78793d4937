"""A simulated browser tab, light enough for thousands per process: Reflex's protocol on a bare websocket."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.harness.protocol import NAMESPACE, Delta, connect_auth, delta_vars, event

WAIT_S = 30.0


class ProtocolError(Exception):
    """The server answered something a browser would not accept."""


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
        await self._ws.send_str(f"40{NAMESPACE},{json.dumps(connect_auth(p))}")
        await asyncio.wait_for(self._connected, WAIT_S)
        await asyncio.wait_for(hydrated, WAIT_S)

    async def emit(self, name: str, payload: dict[str, Any]) -> None:
        """Send one event, shaped as the browser's."""
        assert self._ws is not None
        await self._ws.send_str(f"42{NAMESPACE},{json.dumps(['event', event(name, payload)])}")

    async def cheap_event(self) -> None:
        """Reflex's `set_is_hydrated(True)`, each navigation's last event: no app code, one small delta."""
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
        return (delta_vars(delta, self._protocol["root_state"]) or {}).get("is_hydrated") is True or None

    def submit_settled(self, delta: Delta) -> dict[str, Any] | None:
        changes = delta_vars(delta, self._protocol["signup_state"]) or {}
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
