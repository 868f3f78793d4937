"""The per-address websocket cap, at the ASGI level."""

from __future__ import annotations

import asyncio

import pytest

from signup_app.connection_cap import TOO_MANY_CONNECTIONS, ConnectionCap


class HeldApp:
    """An ASGI app that keeps each websocket open until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.accepted = 0
        self._entered = asyncio.Condition()

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        async with self._entered:
            self.accepted += 1
            self._entered.notify_all()
        await self.release.wait()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5), self._entered:
            await self._entered.wait_for(lambda: self.accepted >= count)


def websocket_scope(peer: str, extensions: dict | None = None) -> dict:
    return {
        "type": "websocket",
        "path": "/_event/",
        "headers": [],
        "client": (peer, 5000),
        "extensions": extensions or {},
    }


async def connect(cap: ConnectionCap, scope: dict) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await cap(scope, receive, send)
    return sent


async def test_the_cap_refuses_beyond_the_limit_per_address() -> None:
    app = HeldApp()
    cap = ConnectionCap(app, limit=lambda: 3)
    held = [asyncio.create_task(connect(cap, websocket_scope("192.0.2.1"))) for _ in range(3)]
    other = asyncio.create_task(connect(cap, websocket_scope("192.0.2.2")))
    await app.wait_for(4)

    refused = await connect(cap, websocket_scope("192.0.2.1"))
    assert refused == [{"type": "websocket.close", "code": 1008, "reason": TOO_MANY_CONNECTIONS}]
    with_status = await connect(cap, websocket_scope("192.0.2.1", {"websocket.http.response": {}}))
    assert with_status[0]["status"] == 429 and with_status[1]["body"] == TOO_MANY_CONNECTIONS.encode()
    assert app.accepted == 4

    app.release.set()
    await asyncio.gather(*held, other)
    assert cap.open == {}
    assert await connect(cap, websocket_scope("192.0.2.1")) == []  # room again


@pytest.mark.parametrize("scope_type", ["http", "lifespan"])
async def test_other_traffic_passes_untouched(scope_type: str) -> None:
    app = HeldApp()
    app.release.set()
    cap = ConnectionCap(app, limit=lambda: 0)
    await cap({"type": scope_type}, None, None)  # type: ignore[arg-type]
    assert app.accepted == 1
