"""Origins and proxies against `reflex run --env prod`: the websocket handshake's Origin check (on the
session's `app_server`, which trusts no proxy and has no origin setting), and behind the `proxied`
server's trusted proxy, one client named alike by every transport and the origins the proxy forwards."""

from __future__ import annotations

import uuid

import httpx
import pytest
import socketio.exceptions
from multidict import CIMultiDict

from tests.harness.abuse import PROXIED_PER_ADDRESS, LimitedServer, forwarded, new_addresses, throttle_seconds
from tests.harness.client import WAIT_S, WireClient
from tests.harness.server import AppServer
from tests.harness.wire import EVIL, own_origins
from tests.wire.signups import send

pytestmark = pytest.mark.wire

PUBLIC = "https://signup.example.com"
# What the TLS proxy in front of a deployment adds: the client, the public scheme and host.
PUBLIC_FORWARDED = {
    "X-Forwarded-For": "198.51.100.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "signup.example.com",
}
# The socket.io endpoint's handshake, as a plain request: the Origin check answers it first.
HANDSHAKE = "/_event/?EIO=4&transport=websocket"


def incomplete() -> dict[str, str]:
    """A submission that is refused for its fields, so each attempt only counts."""
    return {"name": "", "email": f"proxy-{uuid.uuid4().hex}@example.com", "password": "short"}


@pytest.mark.parametrize(
    "origin",
    [EVIL, "null", "other-port", "other-host", "development-frontend", "forwarded-by-an-untrusted-proxy"],
)
async def test_websocket_refuses_a_foreign_origin(
    app_server: AppServer, http: httpx.AsyncClient, origin: str
) -> None:
    headers = {}
    if origin == "other-port":
        origin = f"http://127.0.0.1:{app_server.port + 1}"
    elif origin == "other-host":  # the same server under another name is another origin
        origin = f"http://localhost:{app_server.port}"
    elif origin == "development-frontend":
        origin = "http://localhost:3000"
    elif origin == "forwarded-by-an-untrusted-proxy":  # counts only from a trusted proxy
        origin, headers = PUBLIC, PUBLIC_FORWARDED
    client = WireClient(app_server.url, origin=origin, headers=headers)
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with client:
            pass
    assert client.messages == []
    # Why: the engine.io server refuses the Origin itself (python-socketio's error says only
    # "Connection error"), while its own origin gets past that check.
    refused = await http.get(HANDSHAKE, headers={**headers, "Origin": origin})
    assert (refused.status_code, refused.json()) == (400, f"{origin} is not an accepted origin.")
    own = await http.get(HANDSHAKE, headers={"Origin": app_server.url})
    assert "not an accepted origin" not in own.text


async def test_websocket_accepts_its_own_origins(app_server: AppServer) -> None:
    for origin in own_origins(app_server):
        async with WireClient(origin, origin=origin):
            pass  # entered once the tab is hydrated


def test_the_test_server_runs_without_an_origin_setting(app_server: AppServer) -> None:
    assert "REFLEX_CORS_ALLOWED_ORIGINS" not in app_server.environment()


async def test_every_transport_names_the_same_client_from_several_forwarded_lines(
    proxied: LimitedServer,
) -> None:
    client, bystander = new_addresses(2)

    async def throttled(transport: str, *lines: str) -> bool:
        """Whether an attempt with these X-Forwarded-For lines (as HAProxy's `option forwardfor`
        leaves them) was refused as too many."""
        headers = CIMultiDict(("X-Forwarded-For", value) for value in lines)
        reply = await send(transport, proxied.app, http, incomplete(), headers)
        too_many = throttle_seconds(reply.errors) is not None
        assert reply.status == (429 if too_many else 422), reply
        return too_many

    # Each attempt's left-most hops are the client's own, different every time; the proxy's line
    # (or the value it appended to, as nginx does) carries the same address.
    hops = [
        ("websocket", "6.6.6.6", client),
        ("json", "7.7.7.7", client),
        ("form", "8.8.8.8, 9.9.9.9", client),
        ("json", f"5.5.5.5, {client}"),
    ]
    async with httpx.AsyncClient(base_url=proxied.url, timeout=WAIT_S) as http:
        for i in range(PROXIED_PER_ADDRESS):
            transport, *lines = hops[i % len(hops)]
            assert not await throttled(transport, *lines)
        # The next from the same client is refused on every transport.
        assert await throttled("websocket", "1.1.1.1", client)
        assert await throttled("json", "2.2.2.2", f"3.3.3.3, {client}")
        assert await throttled("form", client)
        # Another client behind the same proxy is not affected.
        assert not await throttled("json", client, bystander)


@pytest.mark.parametrize("page", ["public", "listed"])
async def test_the_forwarded_public_origin_and_a_listed_one_are_admitted(
    proxied: LimitedServer, page: str
) -> None:
    """The public origin counts from a trusted proxy; a listed origin's page is another site to the
    browser, and the listing still admits it."""
    if page == "public":
        origin, headers, site = PUBLIC, PUBLIC_FORWARDED, "same-origin"
    else:
        origin, site = proxied.app.environment()["REFLEX_CORS_ALLOWED_ORIGINS"], "cross-site"
        headers = forwarded(new_addresses(1)[0])
    async with WireClient(proxied.url, origin=origin, headers=headers):
        pass  # entered once the tab is hydrated
    async with httpx.AsyncClient(base_url=proxied.url, timeout=WAIT_S) as http:
        sent = {"Origin": origin, "Sec-Fetch-Site": site, **headers}
        response = await http.post("/api/signup", json=incomplete(), headers=sent)
        assert response.status_code == 422, response.text
        if page == "public":
            # Once a proxy names the public host, the internal address is no page's origin.
            sent = {**headers, "Origin": proxied.url}
            response = await http.post("/api/signup", json=incomplete(), headers=sent)
            assert response.status_code == 403, response.text
            return
        # Reflex's CORS layer answers a listed origin's preflight, and no other's.
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        allowed = await http.options("/api/signup", headers={"Origin": origin, **preflight})
        assert allowed.headers.get("access-control-allow-origin") == origin
        refused = await http.options("/api/signup", headers={"Origin": EVIL, **preflight})
        assert "access-control-allow-origin" not in refused.headers
