"""The per-address websocket cap, at the ASGI level."""

from __future__ import annotations

import asyncio

import pytest

from signup_app.web.connection_cap import TOO_MANY_CONNECTIONS, ConnectionCap


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


async def test_the_cap_counts_the_forwarded_client_across_every_line_and_ipv6_per_64(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGNUP_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8")
    monkeypatch.delenv("SIGNUP_IPV6_PREFIX", raising=False)
    app = HeldApp()
    cap = ConnectionCap(app, limit=lambda: 2)

    def proxied(*lines: bytes) -> dict:
        scope = websocket_scope("127.0.0.1")
        scope["headers"] = [(b"x-forwarded-for", line) for line in lines]
        return scope

    # HAProxy adds a line (here in front of a second trusted proxy): no single line tells who it is.
    held = [
        asyncio.create_task(connect(cap, proxied(b"6.6.6.6", b"198.51.100.1"))),
        asyncio.create_task(connect(cap, proxied(b"7.7.7.7, 198.51.100.1", b"10.1.2.3"))),
        asyncio.create_task(connect(cap, proxied(b"2001:db8:1:2::1"))),
        asyncio.create_task(connect(cap, proxied(b"2001:db8:1:2:ffff::9"))),
    ]
    await app.wait_for(4)
    assert await connect(cap, proxied(b"8.8.8.8, 198.51.100.1"))  # refused: a third from 198.51.100.1
    assert await connect(cap, proxied(b"2001:db8:1:2:abcd::5"))  # refused: a third from the same /64
    assert cap.open == {"198.51.100.1": 2, "2001:db8:1:2::/64": 2}
    app.release.set()
    await asyncio.gather(*held)
