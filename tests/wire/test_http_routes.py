"""The HTTP routes against `reflex run --env prod`: statuses, the cross-site check, the body cap,
the websocket's Origin check, and where the password must never show up."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
import socketio.exceptions

from signup_app.accounts.registration import EMAIL_TAKEN
from signup_app.web import routes
from signup_app.web.transports.form_post import NOT_A_FORM
from signup_app.web.transports.form_post import TOO_LARGE as FORM_TOO_LARGE
from signup_app.web.transports.http import CROSS_SITE
from signup_app.web.transports.json_api import BAD_JSON, NOT_JSON, TOO_DEEP
from signup_app.web.transports.json_api import TOO_LARGE as JSON_TOO_LARGE
from tests.app_server import AppServer
from tests.wire.client import WireClient
from tests.wire.conftest import (
    FORM_CONTENT_TYPE,
    Accounts,
    browser_headers,
    get_welcome,
    page_error_texts,
    page_errors,
    post_form,
)

pytestmark = pytest.mark.wire

FORM_PATH = routes.SIGNUP_FORM
JSON_PATH = routes.SIGNUP_API
WELCOME_PATH = routes.SIGNUP_WELCOME
LIMIT = 16 * 1024
EVIL = "https://evil.example"
JSON_TYPE = "application/json"


def unique_email(tag: str = "http") -> str:
    return f"{tag}-{uuid.uuid4().hex}@example.com"


def strong_password() -> str:
    return f"{uuid.uuid4().hex[:12]} orbit lantern mosaic"


def valid_fields(tag: str = "http") -> dict[str, str]:
    return {"name": "Route Tester", "email": unique_email(tag), "password": strong_password()}


def json_errors(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"] == JSON_TYPE, response.headers
    body = response.json()
    assert set(body) == {"errors"}, body
    return body["errors"]


def form_page_errors(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert {"name", "email", "password"} <= set(page_error_texts(response.text)), "not the form page"
    return page_errors(response.text)


def own_origins(app_server: AppServer) -> list[str]:
    return [app_server.url, f"http://localhost:{app_server.port}"]


async def chunks(size: int, chunk: int = 1024) -> AsyncIterator[bytes]:
    """A streamed body of `size` bytes: httpx sends it chunked, without Content-Length."""
    sent = 0
    while sent < size:
        part = min(chunk, size - sent)
        sent += part
        yield b" " * part


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


# --- 400 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b'{"name": "Ada"', b"\xff\xfe{}", b'{"name": "\xc3"}'],
    ids=["malformed", "empty", "truncated", "not-utf8", "bad-utf8-in-string"],
)
async def test_json_not_json_is_400(http: httpx.AsyncClient, accounts: Accounts, body: bytes) -> None:
    rows_before = accounts.count()
    response = await http.post(JSON_PATH, content=body, headers={"Content-Type": JSON_TYPE})
    assert response.status_code == 400
    assert json_errors(response) == {"form": BAD_JSON}
    assert accounts.count() == rows_before


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 16_000,
        b'{"name": ' * 1_600,
        b'{"name": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"password": ' + b'{"a": ' * 1_500 + b"1" + b"}" * 1_501,
    ],
    ids=["unclosed-arrays", "unclosed-objects", "closed-arrays", "closed-objects"],
)
async def test_json_nested_too_deeply_is_400(
    http: httpx.AsyncClient, accounts: Accounts, body: bytes
) -> None:
    """Nesting past the interpreter's recursion limit is the client's error, never a 500."""
    rows_before = accounts.count()
    response = await http.post(JSON_PATH, content=body, headers={"Content-Type": JSON_TYPE})
    assert response.status_code == 400
    assert json_errors(response) == {"form": TOO_DEEP}
    assert accounts.count() == rows_before
    # The worker is unharmed: the next request is answered as usual.
    response = await http.post(JSON_PATH, content=b"{}", headers={"Content-Type": JSON_TYPE})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"name": ' + b"9" * 5_000 + b"}", 400),  # over Python's integer digit limit
        (b'{"name": NaN, "email": Infinity, "password": -Infinity}', 422),
        (b'{"name": 1e999999, "email": "a@example.com", "password": "x"}', 422),
        (b'{"name": "\\ud800", "email": "\\udfff@example.com", "password": "\\ud800\\udc00"}', 422),
        (b'{"name": "Ada", "name": ["Ada"], "email": {}, "password": null}', 422),
        (b'{"name": [[[[[[[[[["Ada"]]]]]]]]]], "email": [], "password": {"": {}}}', 422),
    ],
    ids=[
        "huge-integer",
        "nan-infinity",
        "float-overflow",
        "lone-surrogates",
        "duplicate-keys",
        "nested-values",
    ],
)
async def test_json_pathological_bodies_are_client_errors(
    http: httpx.AsyncClient, accounts: Accounts, body: bytes, status: int
) -> None:
    rows_before = accounts.count()
    response = await http.post(JSON_PATH, content=body, headers={"Content-Type": JSON_TYPE})
    assert response.status_code == status
    errors = json_errors(response)
    assert errors and all(isinstance(message, str) and message for message in errors.values())
    assert accounts.count() == rows_before


async def test_form_not_utf8_is_400(http: httpx.AsyncClient, app_server: AppServer) -> None:
    response = await http.post(
        FORM_PATH, content=b"name=\xff\xfe&email=a", headers=browser_headers(app_server)
    )
    assert response.status_code == 400
    assert form_page_errors(response) == {"form": NOT_A_FORM}


# --- 405 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_json_route_takes_only_post(http: httpx.AsyncClient, method: str) -> None:
    response = await http.request(method, JSON_PATH, json=valid_fields() if method != "GET" else None)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert json_errors(response) == {"form": "Use POST."}


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE"])
@pytest.mark.parametrize("path", [JSON_PATH, FORM_PATH])
async def test_other_methods_are_405_with_a_true_allow_header(
    http: httpx.AsyncClient, method: str, path: str
) -> None:
    """RFC 9110: a 405's Allow lists the methods the resource supports (here, POST at least).

    Not a CORS preflight (no Origin, no Access-Control-Request-Method): the CORS layer answers those.
    """
    response = await http.request(method, path)
    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers.get("allow", "").split(",")}
    assert "POST" in allowed, response.headers
    if path == JSON_PATH:
        assert allowed == {"POST"}, response.headers
        assert json_errors(response) == {"form": "Use POST."}


# --- 413 --------------------------------------------------------------------------------------------------


def padded_json(size: int) -> bytes:
    """A JSON object of exactly `size` bytes (bad fields: a 422 if it gets through)."""
    body = json.dumps({"name": "", "email": "", "password": ""}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def padded_form(size: int) -> bytes:
    body = urlencode({"name": "", "email": "", "password": ""}).encode()
    return body + b"&name=" + b"x" * (size - len(body) - len(b"&name="))


async def test_json_body_at_the_limit_is_read(http: httpx.AsyncClient) -> None:
    body = padded_json(LIMIT)
    assert len(body) == LIMIT
    response = await http.post(JSON_PATH, content=body, headers={"Content-Type": JSON_TYPE})
    assert response.status_code == 422, response.text
    streamed = await http.post(JSON_PATH, content=chunks(LIMIT), headers={"Content-Type": JSON_TYPE})
    assert streamed.status_code == 400  # spaces only: read whole, and not JSON


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_json_body_over_the_limit_is_413(
    http: httpx.AsyncClient, accounts: Accounts, streamed: bool
) -> None:
    rows_before = accounts.count()
    content = chunks(LIMIT + 1) if streamed else padded_json(LIMIT + 1)
    response = await http.post(JSON_PATH, content=content, headers={"Content-Type": JSON_TYPE})
    assert ("content-length" in response.request.headers) is not streamed
    assert response.status_code == 413
    assert json_errors(response) == {"form": JSON_TOO_LARGE}
    assert accounts.count() == rows_before


async def test_form_body_at_the_limit_is_read(http: httpx.AsyncClient, app_server: AppServer) -> None:
    body = padded_form(LIMIT)
    assert len(body) == LIMIT
    response = await http.post(FORM_PATH, content=body, headers=browser_headers(app_server))
    assert response.status_code == 422
    assert set(form_page_errors(response)) == {"name", "email", "password"}


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_form_body_over_the_limit_is_413(
    http: httpx.AsyncClient, app_server: AppServer, accounts: Accounts, streamed: bool
) -> None:
    rows_before = accounts.count()
    content = chunks(LIMIT + 1) if streamed else padded_form(LIMIT + 1)
    response = await http.post(FORM_PATH, content=content, headers=browser_headers(app_server))
    assert ("content-length" in response.request.headers) is not streamed
    assert response.status_code == 413
    assert form_page_errors(response) == {"form": FORM_TOO_LARGE}
    assert accounts.count() == rows_before


# --- 415 --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", FORM_CONTENT_TYPE, "multipart/form-data; boundary=x", "application/jsonx"],
)
async def test_json_route_needs_json(
    http: httpx.AsyncClient, accounts: Accounts, content_type: str | None
) -> None:
    rows_before = accounts.count()
    headers = {"Content-Type": content_type} if content_type else {}
    response = await http.post(JSON_PATH, content=json.dumps(valid_fields()), headers=headers)
    assert response.status_code == 415
    assert json_errors(response) == {"form": NOT_JSON}
    assert accounts.count() == rows_before


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
async def test_json_route_takes_json_with_parameters(
    http: httpx.AsyncClient, accounts: Accounts, content_type: str
) -> None:
    fields = valid_fields("typed")
    response = await http.post(JSON_PATH, content=json.dumps(fields), headers={"Content-Type": content_type})
    assert response.status_code == 201, response.text
    assert len(accounts.with_email(fields["email"])) == 1


@pytest.mark.parametrize("content_type", [None, JSON_TYPE, "text/plain", "multipart/form-data; boundary=x"])
async def test_form_route_needs_a_urlencoded_form(
    http: httpx.AsyncClient, app_server: AppServer, accounts: Accounts, content_type: str | None
) -> None:
    rows_before = accounts.count()
    fields = valid_fields()
    headers = {"Origin": app_server.url}
    if content_type:
        headers["Content-Type"] = content_type
    body = json.dumps(fields) if content_type == JSON_TYPE else urlencode(fields)
    response = await http.post(FORM_PATH, content=body, headers=headers)
    assert response.status_code == 415
    assert form_page_errors(response) == {"form": NOT_A_FORM}
    assert accounts.count() == rows_before


# --- 422 -----------------------------------------------------------------------------------------------


async def test_json_invalid_fields_are_422(http: httpx.AsyncClient, accounts: Accounts) -> None:
    taken = valid_fields("taken-json")
    assert (await http.post(JSON_PATH, json=taken)).status_code == 201
    again = {**valid_fields(), "email": taken["email"].upper()}
    response = await http.post(JSON_PATH, json=again)
    assert response.status_code == 422
    assert json_errors(response) == {"email": EMAIL_TAKEN}
    assert len(accounts.with_email(taken["email"])) == 1


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ([], {"form": "The form could not be read. Reload the page and try again."}),
        ("name=Ada", {"form": "The form could not be read. Reload the page and try again."}),
        (None, {"form": "The form could not be read. Reload the page and try again."}),
        (
            {"name": 7, "email": ["a@example.com"], "password": {"p": 1}},
            {
                "name": "Name must be text.",
                "email": "Email address must be text.",
                "password": "Password must be text.",
            },
        ),
        (
            {"name": "Ada", "email": "ada@example.com", "password": "x" * 20, "admin": True},
            {"form": "Unexpected field: admin."},
        ),
    ],
    ids=["array", "string", "null", "wrong-types", "extra-key"],
)
async def test_json_not_a_signup_is_422(
    http: httpx.AsyncClient, accounts: Accounts, body: object, errors: dict[str, str]
) -> None:
    rows_before = accounts.count()
    response = await http.post(JSON_PATH, content=json.dumps(body), headers={"Content-Type": JSON_TYPE})
    assert response.status_code == 422
    assert json_errors(response) == errors
    assert accounts.count() == rows_before


async def test_form_invalid_fields_are_422_and_refill_name_and_email(
    http: httpx.AsyncClient, app_server: AppServer
) -> None:
    fields = {"name": "Ada <Lovelace>", "email": "not-an-address", "password": strong_password()}
    response = await post_form(http, app_server, fields)
    assert response.status_code == 422
    assert set(form_page_errors(response)) == {"email"}
    assert 'value="Ada &lt;Lovelace&gt;"' in response.text
    assert 'value="not-an-address"' in response.text
    assert 'name="password" type="password" autocomplete="new-password" value=""' in response.text


# --- Cross-site requests -------------------------------------------------------------------------------


CROSS_SITE_HEADERS = [
    {"Origin": EVIL},
    {"Origin": "http://localhost:3000"},  # the development frontend is not a production page's origin
    {"Origin": EVIL, "Sec-Fetch-Site": "same-origin"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
]
CROSS_SITE_IDS = [
    "evil-origin",
    "development-frontend",
    "evil-origin-claiming-same-origin",
    "null-origin",
    "sec-fetch-site-only",
]


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS, ids=CROSS_SITE_IDS)
async def test_json_cross_site_is_403(
    http: httpx.AsyncClient, accounts: Accounts, headers: dict[str, str]
) -> None:
    fields = valid_fields("cross-json")
    for content_type in (JSON_TYPE, "text/plain"):  # text/plain: what a cross-site <form> can send
        response = await http.post(
            JSON_PATH, content=json.dumps(fields), headers={**headers, "Content-Type": content_type}
        )
        assert response.status_code == 403
        assert json_errors(response) == {"form": CROSS_SITE}
        assert "access-control-allow-origin" not in response.headers
    assert accounts.with_email(fields["email"]) == []


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS, ids=CROSS_SITE_IDS)
async def test_form_cross_site_is_403(
    http: httpx.AsyncClient, accounts: Accounts, headers: dict[str, str]
) -> None:
    fields = valid_fields("cross-form")
    response = await http.post(
        FORM_PATH, content=urlencode(fields), headers={**headers, "Content-Type": FORM_CONTENT_TYPE}
    )
    assert response.status_code == 403
    assert form_page_errors(response) == {"form": CROSS_SITE}
    # Nothing of the submission is echoed into a page another site asked for.
    assert fields["email"] not in response.text
    assert accounts.with_email(fields["email"]) == []


async def test_own_origins_are_accepted(
    http: httpx.AsyncClient, app_server: AppServer, accounts: Accounts
) -> None:
    # The page's own origin is whichever name it was reached by, with no origin setting.
    for origin in own_origins(app_server):
        fields = valid_fields("own")
        response = await http.post(f"{origin}{JSON_PATH}", json=fields, headers={"Origin": origin})
        assert response.status_code == 201, (origin, response.text)
        fields = valid_fields("own")
        response = await http.post(
            f"{origin}{FORM_PATH}",
            content=urlencode(fields),
            headers={"Origin": origin, "Sec-Fetch-Site": "same-origin", "Content-Type": FORM_CONTENT_TYPE},
        )
        assert response.status_code == 303, (origin, page_errors(response.text))
        assert len(accounts.with_email(fields["email"])) == 1


async def test_script_without_origin_is_accepted(http: httpx.AsyncClient, accounts: Accounts) -> None:
    fields = valid_fields("script")
    response = await http.post(JSON_PATH, json=fields)
    assert "origin" not in response.request.headers
    assert "sec-fetch-site" not in response.request.headers
    assert response.status_code == 201
    assert len(accounts.with_email(fields["email"])) == 1


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
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect()
        assert client.messages == []
    finally:
        await client.close()
    # Why: the engine.io server refuses the Origin itself (python-socketio's error says only
    # "Connection error"), while its own origin gets past that check.
    refused = await http.get(HANDSHAKE, headers={"Origin": origin})
    assert (refused.status_code, refused.json()) == (400, f"{origin} is not an accepted origin.")
    own = await http.get(HANDSHAKE, headers={"Origin": app_server.url})
    assert "not an accepted origin" not in own.text


async def test_websocket_accepts_its_own_origins(app_server: AppServer) -> None:
    for origin in own_origins(app_server):
        client = WireClient(origin, origin=origin)
        try:
            await client.connect()  # returns once the tab is hydrated
        finally:
            await client.close()


# --- The password stays out of every response ---------------------------------------------------------


def sentinel_password() -> str:
    return f"Sentinel {uuid.uuid4().hex} horse battery"


def assert_password_absent(response: httpx.Response, password: str) -> None:
    """Neither the password nor its distinctive part in the body, any header, or the URL."""
    core = password.split()[1]
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
    attempts = [
        (303, {"name": "Sam Sentinel", "email": taken, "password": password}, browser_headers(app_server)),
        (
            422,
            {"name": "Sam Again", "email": taken.upper(), "password": password},
            browser_headers(app_server),
        ),
        (
            422,
            {"name": "Sam\nSentinel", "email": unique_email(), "password": password},
            browser_headers(app_server),
        ),
        (422, {"name": "Sam", "email": "not-an-address", "password": password}, browser_headers(app_server)),
        (
            422,
            {"name": "Sam", "email": unique_email(), "password": password, "x": "1"},
            browser_headers(app_server),
        ),
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
        await http.post(
            FORM_PATH, content=fields, headers={**browser_headers(app_server), "Content-Type": JSON_TYPE}
        ),
        await http.post(
            FORM_PATH, content=fields + "&pad=" + "x" * LIMIT, headers=browser_headers(app_server)
        ),
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
    assert password.split()[1] not in response.text
