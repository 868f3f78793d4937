"""A simulated browser tab, light enough for thousands per process: Reflex's protocol on a bare websocket."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.harness.protocol import NAMESPACE, connect_auth, delta_vars, event

WAIT_S = 30.0
# The answers awaited: (the protocol's state key, one of its vars, the value that answers).
HYDRATED = ("root_state", "is_hydrated", True)
SETTLED = ("signup_state", "pending", False)  # a submit ends
SHOWN = ("account_state", "checked", True)  # the account page checked its cookie


class ProtocolError(Exception):
    """The server answered something a browser would not accept."""


@dataclass(eq=False)
class Tab:
    """One browser tab on the signup page: a token, a websocket, and at most one awaited answer."""

    _session: aiohttp.ClientSession
    _base_url: str
    _protocol: dict[str, Any]
    _headers: dict[str, str] = field(default_factory=dict)  # more handshake headers: Cookie, X-Forwarded-For
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    closed_by_server: bool = False
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _reader: asyncio.Task | None = None
    _connected: asyncio.Future | None = None
    _waiting: tuple[str, str, object, asyncio.Future] | None = None  # state, var, value, answer

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
        self._connected = asyncio.get_running_loop().create_future()
        hydrated = self._expect(HYDRATED)
        self._reader = asyncio.create_task(self._read())
        await self._ws.send_str(f"40{NAMESPACE},{json.dumps(connect_auth(p))}")
        await asyncio.wait_for(self._connected, WAIT_S)
        await asyncio.wait_for(hydrated, WAIT_S)

    async def emit(self, name: str, payload: dict[str, Any]) -> None:
        """Send one event, shaped as the browser's."""
        assert self._ws is not None
        await self._ws.send_str(f"42{NAMESPACE},{json.dumps(['event', event(name, payload)])}")

    async def ask(self, name: str, payload: dict[str, Any], until: tuple[str, str, object]) -> dict[str, Any]:
        """Send one event; protocol[state]'s vars in the first delta after it where var is value (until)."""
        answered = self._expect(until)
        await self.emit(name, payload)
        return await asyncio.wait_for(answered, WAIT_S)

    async def cheap_event(self) -> None:
        """Reflex's `set_is_hydrated(True)`, each navigation's last event: no app code, one small delta."""
        await self.ask(self._protocol["cheap_event"], {"value": True}, HYDRATED)

    async def submit(self, fields: dict[str, str]) -> dict[str, Any]:
        """Submit the signup form; returns SignupState's vars from the delta that ends the submit."""
        form_data = {self._protocol["form_entries_key"]: [[name, value] for name, value in fields.items()]}
        return await self.ask(self._protocol["submit_event"], {"form_data": form_data}, SETTLED)

    async def load_account(self) -> dict[str, Any]:
        """Run the account page's on-load handler, which checks the cookie; AccountState's vars once shown."""
        view = await self.ask(f"{self._protocol['account_state']}.load", {}, SHOWN)
        if not view.get("signed_in"):
            raise ProtocolError(f"the session cookie signed nobody in: {view}")
        return view

    async def close(self) -> None:
        """Close the tab."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    def _expect(self, until: tuple[str, str, object]) -> asyncio.Future:
        """A future for the vars of protocol[state] in the first delta from now on where var is value."""
        future = asyncio.get_running_loop().create_future()
        state, var, value = until
        self._waiting = (self._protocol[state], var, value, future)
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
                elif data.startswith(f"40{NAMESPACE},") and self._connected and not self._connected.done():
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
        state, var, value, future = self._waiting
        changes = delta_vars(args[0].get("delta") or {}, state) or {}
        if changes.get(var) is value and not future.done():
            self._waiting = None
            future.set_result(changes)

    def _fail(self, error: Exception) -> None:
        for future in (self._connected, self._waiting[3] if self._waiting else None):
            if future is not None and not future.done():
                future.set_exception(error)
