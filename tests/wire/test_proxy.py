"""Behind a trusted proxy, against `reflex run --env prod`: every transport names the same client from
the same X-Forwarded-For lines, and the page's origin is the one the proxy forwards.

The `behind_proxy` server trusts 127.0.0.1 (the tests' own address), allows a few attempts per
address and lists one further origin; the session's `app_server` trusts nobody and has no origin
setting at all.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
import socketio.exceptions
from multidict import CIMultiDict

from signup_app.web.transports.http import CROSS_SITE
from tests.harness.abuse import LimitedServer, new_addresses, serving
from tests.harness.client import WAIT_S, WireClient, form
from tests.harness.server import AppServer
from tests.harness.wire import FORM_CONTENT_TYPE, page_errors

pytestmark = pytest.mark.wire

PER_ADDRESS = 4
TOO_MANY = re.compile(r"Too many attempts, try again in \d+ seconds\.")
PUBLIC = "https://signup.example.com"
PARTNER = "https://partner.example"
# What the TLS proxy in front of a deployment adds: the public scheme and host.
PUBLIC_FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "signup.example.com"}


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LimitedServer]:
    """A server behind a trusted proxy at 127.0.0.1, PER_ADDRESS attempts per address, one further origin."""
    env = {
        "REFLEX_CORS_ALLOWED_ORIGINS": PARTNER,
        "SIGNUP_TRUSTED_PROXIES": "127.0.0.1",
        "SIGNUP_RATE_LIMIT_PER_ADDRESS": f"{PER_ADDRESS}/minute",
        "SIGNUP_RATE_LIMIT_PER_EMAIL": "100000/minute",
        "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "100",
    }
    with serving(tmp_path_factory, "behind_proxy", env) as served:
        yield served


def lines(*values: str) -> CIMultiDict[str]:
    """X-Forwarded-For as several header lines, as HAProxy's `option forwardfor` leaves it."""
    return CIMultiDict(("X-Forwarded-For", value) for value in values)


def incomplete() -> dict[str, str]:
    """A submission that is refused for its fields, so each attempt only counts."""
    return {"name": "", "email": f"proxy-{uuid.uuid4().hex}@example.com", "password": "short"}


async def websocket_attempt(served: LimitedServer, headers: CIMultiDict[str]) -> str:
    """One websocket submit; its form-level message ("" if none)."""
    async with WireClient(served.url, headers=headers) as client:
        deltas = await client.submit_and_settle(form(**incomplete()))
    errors = next((d["errors"] for d in reversed(deltas) if "errors" in d), {})
    return errors.get("form", "")


async def json_attempt(http: httpx.AsyncClient, headers: CIMultiDict[str]) -> str:
    response = await http.post("/api/signup", json=incomplete(), headers=list(headers.items()))
    assert response.status_code in (422, 429), response.text
    return response.json()["errors"].get("form", "")


async def form_attempt(http: httpx.AsyncClient, served: LimitedServer, headers: CIMultiDict[str]) -> str:
    browser = [("Origin", served.url), ("Sec-Fetch-Site", "same-origin"), ("Content-Type", FORM_CONTENT_TYPE)]
    response = await http.post(
        "/signup", content=urlencode(incomplete()), headers=[*browser, *headers.items()]
    )
    assert response.status_code in (422, 429), response.text
    return page_errors(response.text).get("form", "")


async def test_every_transport_names_the_same_client_from_several_forwarded_lines(
    behind_proxy: LimitedServer,
) -> None:
    client, bystander = new_addresses(2)
    async with httpx.AsyncClient(base_url=behind_proxy.url, timeout=WAIT_S) as http:
        # Each attempt's left-most hops are the client's own, different every time; the proxy's
        # line (or the value it appended to) carries the same address.
        attempts = [
            websocket_attempt(behind_proxy, lines("6.6.6.6", client)),
            json_attempt(http, lines("7.7.7.7", client)),
            form_attempt(http, behind_proxy, lines("8.8.8.8, 9.9.9.9", client)),
            json_attempt(http, lines(f"5.5.5.5, {client}")),  # nginx: one line, appended to
        ]
        for attempt in attempts:
            assert not TOO_MANY.fullmatch(await attempt)
        # The fifth from the same client is refused on every transport.
        assert TOO_MANY.fullmatch(await websocket_attempt(behind_proxy, lines("1.1.1.1", client)))
        assert TOO_MANY.fullmatch(await json_attempt(http, lines("2.2.2.2", f"3.3.3.3, {client}")))
        assert TOO_MANY.fullmatch(await form_attempt(http, behind_proxy, lines(client)))
        # Another client behind the same proxy is not affected.
        assert not TOO_MANY.fullmatch(await json_attempt(http, lines(client, bystander)))


async def test_the_public_origin_counts_from_a_trusted_proxy(behind_proxy: LimitedServer) -> None:
    async with WireClient(behind_proxy.url, origin=PUBLIC, headers=PUBLIC_FORWARDED):
        pass  # entered once the tab is hydrated
    async with httpx.AsyncClient(base_url=behind_proxy.url, timeout=WAIT_S) as http:
        headers = {"Origin": PUBLIC, "Sec-Fetch-Site": "same-origin", **PUBLIC_FORWARDED}
        response = await http.post("/api/signup", json=incomplete(), headers=headers)
        assert response.status_code == 422, response.text
        # Once a proxy names the public host, the internal address is no page's origin.
        response = await http.post(
            "/api/signup", json=incomplete(), headers={**PUBLIC_FORWARDED, "Origin": behind_proxy.url}
        )
        assert response.status_code == 403, response.text


async def test_forwarded_origin_headers_from_anyone_else_count_for_nothing(app_server: AppServer) -> None:
    client = WireClient(app_server.url, origin=PUBLIC, headers=PUBLIC_FORWARDED)
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with client:
            pass
    assert client.messages == []
    async with httpx.AsyncClient(base_url=app_server.url, timeout=WAIT_S) as http:
        for path, content_type in (("/api/signup", "application/json"), ("/signup", FORM_CONTENT_TYPE)):
            headers = {"Origin": PUBLIC, "Content-Type": content_type, **PUBLIC_FORWARDED}
            response = await http.post(path, content=b"{}", headers=headers)
            assert response.status_code == 403, (path, response.text)
            assert CROSS_SITE in response.text


def test_the_test_server_runs_without_an_origin_setting(app_server: AppServer) -> None:
    assert "REFLEX_CORS_ALLOWED_ORIGINS" not in app_server.environment()


async def test_a_listed_origin_is_accepted_besides_the_own(behind_proxy: LimitedServer) -> None:
    async with WireClient(behind_proxy.url, origin=PARTNER):
        pass  # entered once the tab is hydrated
    async with httpx.AsyncClient(base_url=behind_proxy.url, timeout=WAIT_S) as http:
        # A page of a listed origin is another site to the browser; the listing still admits it.
        headers = {"Origin": PARTNER, "Sec-Fetch-Site": "cross-site"}
        response = await http.post("/api/signup", json=incomplete(), headers=headers)
        assert response.status_code == 422, response.text
        # Reflex's CORS layer answers a listed origin's preflight, and no other's.
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        allowed = await http.options("/api/signup", headers={"Origin": PARTNER, **preflight})
        assert allowed.headers.get("access-control-allow-origin") == PARTNER
        refused = await http.options("/api/signup", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in refused.headers
