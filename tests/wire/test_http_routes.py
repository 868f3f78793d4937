"""The HTTP routes end-to-end, against `reflex run --env prod`: an account made by each route, the
websocket's Origin check, and where the password must never show up (tests/routes has the status
codes in-process)."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
import socketio.exceptions

from tests.harness.client import WireClient
from tests.harness.data import sentinel_core, sentinel_password, unique_email
from tests.harness.server import AppServer
from tests.harness.wire import (
    EVIL,
    FORM_CONTENT_TYPE,
    FORM_PATH,
    JSON_PATH,
    JSON_TYPE,
    LIMIT,
    WELCOME_PATH,
    Accounts,
    browser_headers,
    get_welcome,
    own_origins,
    page_errors,
    post_form,
    valid_fields,
)

pytestmark = pytest.mark.wire


# --- 201 / 303 -------------------------------------------------------------------------------------------


async def test_json_created(http: httpx.AsyncClient, accounts: Accounts) -> None:
    fields = valid_fields("created")
    response = await http.post(JSON_PATH, json=fields)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == JSON_TYPE
    [account] = accounts.with_email(fields["email"])
    assert response.json() == {"id": account.id, "name": "Route Tester", "email": fields["email"]}


async def test_form_created_redirects_to_welcome(
    http: httpx.AsyncClient, app_server: AppServer, accounts: Accounts
) -> None:
    fields = valid_fields("redirected")
    response = await post_form(http, app_server, fields)
    assert response.status_code == 303
    assert response.headers["location"] == WELCOME_PATH
    assert len(accounts.with_email(fields["email"])) == 1
    welcome = await get_welcome(http, response)
    assert welcome.status_code == 200
    assert "Welcome, Route Tester" in welcome.text


async def test_form_address_opened_shows_the_form(http: httpx.AsyncClient) -> None:
    response = await http.get(FORM_PATH)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


# --- The websocket handshake checks the Origin too -------------------------------------------------------


# The socket.io endpoint's handshake, as a plain request: the Origin check answers it first.
HANDSHAKE = "/_event/?EIO=4&transport=websocket"


@pytest.mark.parametrize("origin", [EVIL, "null", "other-port", "other-host", "development-frontend"])
async def test_websocket_refuses_a_foreign_origin(
    app_server: AppServer, http: httpx.AsyncClient, origin: str
) -> None:
    if origin == "other-port":
        origin = f"http://127.0.0.1:{app_server.port + 1}"
    elif origin == "other-host":  # the same server under another name is another origin
        origin = f"http://localhost:{app_server.port}"
    elif origin == "development-frontend":
        origin = "http://localhost:3000"
    client = WireClient(app_server.url, origin=origin)
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with client:
            pass
    assert client.messages == []
    # Why: the engine.io server refuses the Origin itself (python-socketio's error says only
    # "Connection error"), while its own origin gets past that check.
    refused = await http.get(HANDSHAKE, headers={"Origin": origin})
    assert (refused.status_code, refused.json()) == (400, f"{origin} is not an accepted origin.")
    own = await http.get(HANDSHAKE, headers={"Origin": app_server.url})
    assert "not an accepted origin" not in own.text


async def test_websocket_accepts_its_own_origins(app_server: AppServer) -> None:
    for origin in own_origins(app_server):
        async with WireClient(origin, origin=origin):
            pass  # entered once the tab is hydrated


# --- The password stays out of every response ---------------------------------------------------------


def assert_password_absent(response: httpx.Response, password: str) -> None:
    """Neither the password nor its distinctive part in the body, any header, or the URL."""
    core = sentinel_core(password)
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert core not in response.text, where
    for name, value in response.headers.multi_items():
        assert core not in value, f"{where}: header {name}"
    for cookie in response.cookies.jar:
        assert core not in f"{cookie.name}={cookie.value}", where
    assert core not in response.headers.get("location", ""), where
    if response.request.method != "GET":
        assert core not in str(response.request.url), where


async def test_form_responses_never_carry_the_password(
    http: httpx.AsyncClient, app_server: AppServer, accounts: Accounts
) -> None:
    password = sentinel_password()
    taken = unique_email("sentinel-taken")
    own = browser_headers(app_server)
    attempts = [
        (303, {"name": "Sam Sentinel", "email": taken, "password": password}, own),
        (422, {"name": "Sam Again", "email": taken.upper(), "password": password}, own),
        (422, {"name": "Sam\nSentinel", "email": unique_email(), "password": password}, own),
        (422, {"name": "Sam", "email": "not-an-address", "password": password}, own),
        (422, {"name": "Sam", "email": unique_email(), "password": password, "x": "1"}, own),
        (403, {"name": "Sam", "email": unique_email(), "password": password}, {"Origin": EVIL}),
        (
            403,
            {"name": "Sam", "email": unique_email(), "password": password},
            {"Sec-Fetch-Site": "cross-site"},
        ),
    ]
    for status, fields, headers in attempts:
        response = await http.post(
            FORM_PATH, content=urlencode(fields), headers={**headers, "Content-Type": FORM_CONTENT_TYPE}
        )
        assert response.status_code == status, (fields, page_errors(response.text))
        assert_password_absent(response, password)
        if status == 303:
            welcome = await get_welcome(http, response)
            assert_password_absent(welcome, password)

    # The other refusals, whose page is built before the fields are read.
    fields = urlencode({"name": "Sam", "email": unique_email(), "password": password})
    others = [
        await http.post(FORM_PATH, content=fields, headers={**own, "Content-Type": JSON_TYPE}),
        await http.post(FORM_PATH, content=fields + "&pad=" + "x" * LIMIT, headers=own),
    ]
    assert [response.status_code for response in others] == [415, 413]
    for response in others:
        assert_password_absent(response, password)
    assert len(accounts.with_email(taken)) == 1


async def test_json_responses_never_carry_the_password(http: httpx.AsyncClient, accounts: Accounts) -> None:
    password = sentinel_password()
    taken = unique_email("sentinel-json")
    attempts = [
        (201, {"name": "Sam Sentinel", "email": taken, "password": password}, {}),
        (422, {"name": "Sam Again", "email": taken.upper(), "password": password}, {}),
        (422, {"name": "Sam", "email": "not-an-address", "password": password}, {}),
        (403, {"name": "Sam", "email": unique_email(), "password": password}, {"Origin": EVIL}),
    ]
    for status, fields, headers in attempts:
        response = await http.post(JSON_PATH, json=fields, headers=headers)
        assert response.status_code == status, response.text
        assert_password_absent(response, password)
    broken = await http.post(
        JSON_PATH, content=f'{{"password": "{password}", ', headers={"Content-Type": JSON_TYPE}
    )
    assert broken.status_code == 400
    assert_password_absent(broken, password)
    assert len(accounts.with_email(taken)) == 1


async def test_a_get_submit_redirects_without_the_password(http: httpx.AsyncClient) -> None:
    """A form submitted as GET (before the page's method is honoured) is sent back to the page,
    and the redirect does not carry its query on."""
    password = sentinel_password()
    query = urlencode({"name": "Sam", "email": unique_email(), "password": password})
    response = await http.get(f"{FORM_PATH}?{query}")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert sentinel_core(password) not in response.text
