"""The HTTP routes in-process, through the app's middleware: each status code with its message, and no
answer that carries the password."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from signup_app.web.transports.form_post import NOT_A_FORM
from signup_app.web.transports.form_post import TOO_LARGE as FORM_TOO_LARGE
from signup_app.web.transports.http import CROSS_SITE
from signup_app.web.transports.json_api import BAD_JSON, NOT_JSON, TOO_DEEP
from signup_app.web.transports.json_api import TOO_LARGE as JSON_TOO_LARGE
from tests.harness.data import sentinel_core, sentinel_password, strong_password, unique_email
from tests.harness.server import Served
from tests.harness.wire import (
    ACCOUNT_PATH,
    EVIL,
    FORM_CONTENT_TYPE,
    FORM_PATH,
    JSON_PATH,
    JSON_TYPE,
    LIMIT,
    Accounts,
    browser_headers,
    chunks,
    form_page_errors,
    get_account,
    json_errors,
    own_origins,
    page_errors,
    post_form,
    valid_fields,
)

MULTIPART = "multipart/form-data; boundary=x"
READ_ERROR = {"form": "The form could not be read. Reload the page and try again."}


def post_headers(path: str, app_server: Served) -> dict[str, str]:
    """What a script posting JSON, or a browser posting the form, sends."""
    return {"Content-Type": JSON_TYPE} if path == JSON_PATH else browser_headers(app_server)


def errors_of(path: str, response: httpx.Response) -> dict[str, str]:
    return json_errors(response) if path == JSON_PATH else form_page_errors(response)


@pytest.mark.parametrize("content_type", [JSON_TYPE, "application/json; charset=utf-8", "Application/JSON"])
async def test_json_from_a_script_without_origin_is_created(
    http: httpx.AsyncClient, accounts: Accounts, content_type: str
) -> None:
    fields = valid_fields("script")
    response = await http.post(JSON_PATH, content=json.dumps(fields), headers={"Content-Type": content_type})
    assert "origin" not in response.request.headers
    assert "sec-fetch-site" not in response.request.headers
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == JSON_TYPE
    [account] = accounts.with_email(fields["email"])
    assert response.json() == {"id": account.id, "name": "Route Tester", "email": fields["email"]}


async def test_own_origins_are_accepted(
    http: httpx.AsyncClient, app_server: Served, accounts: Accounts
) -> None:
    """The page's own origin is whichever name it was reached by, with no origin setting."""
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
        assert response.headers["location"] == ACCOUNT_PATH
        assert len(accounts.with_email(fields["email"])) == 1
        account = await get_account(http, response)
        assert account.status_code == 200
        assert '<dd id="account-name">Route Tester</dd>' in account.text


@pytest.mark.parametrize(
    "query",
    [{}, {"name": "Sam", "email": unique_email(), "password": sentinel_password()}],
    ids=["bare", "with-a-password"],
)
async def test_a_get_of_the_form_address_redirects_to_the_page(
    http: httpx.AsyncClient, query: dict[str, str]
) -> None:
    """A form submitted as GET (before the page's method is honoured) is sent back, its query left out."""
    response = await http.get(FORM_PATH, params=query)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    if query:
        assert sentinel_core(query["password"]) not in response.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"{not json", BAD_JSON, id="malformed"),
        pytest.param(b"", BAD_JSON, id="empty"),
        pytest.param(b'{"name": "Ada"', BAD_JSON, id="truncated"),
        pytest.param(b"\xff\xfe{}", BAD_JSON, id="not-utf8"),
        pytest.param(b'{"name": "\xc3"}', BAD_JSON, id="bad-utf8-in-string"),
        pytest.param(b"[" * 16_000, TOO_DEEP, id="unclosed-arrays"),
        pytest.param(b'{"name": ' * 1_600, TOO_DEEP, id="unclosed-objects"),
        pytest.param(b'{"name": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", TOO_DEEP, id="closed-arrays"),
        pytest.param(
            b'{"password": ' + b'{"a": ' * 1_500 + b"1" + b"}" * 1_501, TOO_DEEP, id="closed-objects"
        ),
    ],
)
async def test_json_unreadable_is_400(
    http: httpx.AsyncClient, accounts: Accounts, body: bytes, message: str
) -> None:
    """Not JSON, or nested past the interpreter's recursion limit: the client's error, never a 500."""
    rows_before = accounts.count()
    response = await http.post(JSON_PATH, content=body, headers={"Content-Type": JSON_TYPE})
    assert response.status_code == 400
    assert json_errors(response) == {"form": message}
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


async def test_form_not_utf8_is_400(http: httpx.AsyncClient, app_server: Served) -> None:
    response = await http.post(
        FORM_PATH, content=b"name=\xff\xfe&email=a", headers=browser_headers(app_server)
    )
    assert response.status_code == 400
    assert form_page_errors(response) == {"form": NOT_A_FORM}


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, JSON_PATH) for m in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE")]
    + [("OPTIONS", FORM_PATH), ("TRACE", FORM_PATH)],
)
async def test_other_methods_are_405_with_a_true_allow_header(
    http: httpx.AsyncClient, method: str, path: str
) -> None:
    """RFC 9110: a 405's Allow lists the methods the resource supports (POST at least). Not a CORS
    preflight (no Origin, no Access-Control-Request-Method): the CORS layer answers those."""
    body = valid_fields() if method in {"PUT", "DELETE", "PATCH"} else None
    response = await http.request(method, path, json=body)
    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers.get("allow", "").split(",")}
    assert "POST" in allowed, response.headers
    if path == JSON_PATH:
        assert response.headers["allow"] == "POST"
        assert json_errors(response) == {"form": "Use POST."}


def padded(path: str, size: int) -> bytes:
    """A body of exactly `size` bytes whose fields are empty (a 422 if it gets through)."""
    fields = {"name": "", "email": "", "password": ""}
    if path == JSON_PATH:
        body = json.dumps(fields).encode()
        return body[:-1] + b" " * (size - len(body)) + b"}"
    body = urlencode(fields).encode()
    return body + b"&name=" + b"x" * (size - len(body) - len(b"&name="))


@pytest.mark.parametrize("path", [JSON_PATH, FORM_PATH], ids=["json", "form"])
async def test_body_at_the_limit_is_read(http: httpx.AsyncClient, app_server: Served, path: str) -> None:
    body = padded(path, LIMIT)
    assert len(body) == LIMIT
    response = await http.post(path, content=body, headers=post_headers(path, app_server))
    assert response.status_code == 422, response.text
    assert set(errors_of(path, response)) == {"name", "email", "password"}
    if path == JSON_PATH:
        streamed = await http.post(path, content=chunks(LIMIT), headers=post_headers(path, app_server))
        assert streamed.status_code == 400  # spaces only: read whole, and not JSON


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", [JSON_PATH, FORM_PATH], ids=["json", "form"])
async def test_body_over_the_limit_is_413(
    http: httpx.AsyncClient, app_server: Served, accounts: Accounts, path: str, streamed: bool
) -> None:
    rows_before = accounts.count()
    content = chunks(LIMIT + 1) if streamed else padded(path, LIMIT + 1)
    response = await http.post(path, content=content, headers=post_headers(path, app_server))
    assert ("content-length" in response.request.headers) is not streamed
    assert response.status_code == 413
    assert errors_of(path, response) == {"form": JSON_TOO_LARGE if path == JSON_PATH else FORM_TOO_LARGE}
    assert accounts.count() == rows_before


@pytest.mark.parametrize(
    ("path", "content_type"),
    [(JSON_PATH, t) for t in (None, "text/plain", FORM_CONTENT_TYPE, MULTIPART, "application/jsonx")]
    + [(FORM_PATH, t) for t in (None, JSON_TYPE, "text/plain", MULTIPART)],
)
async def test_other_media_types_are_415(
    http: httpx.AsyncClient, app_server: Served, accounts: Accounts, path: str, content_type: str | None
) -> None:
    rows_before = accounts.count()
    fields = valid_fields()
    headers = {"Origin": app_server.url} if path == FORM_PATH else {}
    if content_type:
        headers["Content-Type"] = content_type
    body = urlencode(fields) if path == FORM_PATH and content_type != JSON_TYPE else json.dumps(fields)
    response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 415
    assert errors_of(path, response) == {"form": NOT_JSON if path == JSON_PATH else NOT_A_FORM}
    assert accounts.count() == rows_before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        pytest.param([], READ_ERROR, id="array"),
        pytest.param("name=Ada", READ_ERROR, id="string"),
        pytest.param(None, READ_ERROR, id="null"),
        pytest.param(
            {"name": 7, "email": ["a@example.com"], "password": {"p": 1}},
            {
                "name": "Name must be text.",
                "email": "Email address must be text.",
                "password": "Password must be text.",
            },
            id="wrong-types",
        ),
        pytest.param(
            {"name": "Ada", "email": "ada@example.com", "password": "x" * 20, "admin": True},
            {"form": "Unexpected field: admin."},
            id="extra-key",
        ),
    ],
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
    http: httpx.AsyncClient, app_server: Served
) -> None:
    fields = {"name": "Ada <Lovelace>", "email": "not-an-address", "password": strong_password()}
    response = await post_form(http, app_server, fields)
    assert response.status_code == 422
    assert set(form_page_errors(response)) == {"email"}
    assert 'value="Ada &lt;Lovelace&gt;"' in response.text
    assert 'value="not-an-address"' in response.text
    assert 'name="password" type="password" autocomplete="new-password" value=""' in response.text


CROSS_SITE_HEADERS = {
    "evil-origin": {"Origin": EVIL},
    # The development frontend is not a production page's origin.
    "development-frontend": {"Origin": "http://localhost:3000"},
    "evil-origin-claiming-same-origin": {"Origin": EVIL, "Sec-Fetch-Site": "same-origin"},
    "null-origin": {"Origin": "null"},
    "sec-fetch-site-only": {"Sec-Fetch-Site": "cross-site"},
    # A proxy's public scheme and host count only from a trusted proxy, and none is trusted here.
    "untrusted-forwarded-host": {
        "Origin": "https://signup.example.com",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "signup.example.com",
    },
}


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS.values(), ids=CROSS_SITE_HEADERS.keys())
@pytest.mark.parametrize(
    ("path", "content_type"),
    # text/plain: what a cross-site <form> can send to the JSON route.
    [(JSON_PATH, JSON_TYPE), (JSON_PATH, "text/plain"), (FORM_PATH, FORM_CONTENT_TYPE)],
    ids=["json", "json-as-text", "form"],
)
async def test_cross_site_is_403(
    http: httpx.AsyncClient,
    accounts: Accounts,
    headers: dict[str, str],
    path: str,
    content_type: str,
) -> None:
    fields = valid_fields("cross")
    body = urlencode(fields) if path == FORM_PATH else json.dumps(fields)
    response = await http.post(path, content=body, headers={**headers, "Content-Type": content_type})
    assert response.status_code == 403
    assert errors_of(path, response) == {"form": CROSS_SITE}
    assert "access-control-allow-origin" not in response.headers
    # Nothing of the submission is echoed into a page another site asked for.
    assert fields["email"] not in response.text
    assert accounts.with_email(fields["email"]) == []


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


async def test_no_answer_carries_the_password(
    http: httpx.AsyncClient, app_server: Served, accounts: Accounts
) -> None:
    """Created, refused for its fields, cross-site, or refused before its fields are read."""
    password = sentinel_password()
    taken = unique_email("sentinel-taken")
    own = browser_headers(app_server)
    as_json = {"Content-Type": JSON_TYPE}
    as_form = {"Content-Type": FORM_CONTENT_TYPE}

    def form(name: str, email: str, **extra: str) -> str:
        return urlencode({"name": name, "email": email, "password": password, **extra})

    def script(name: str, email: str) -> str:
        return json.dumps({"name": name, "email": email, "password": password})

    attempts = [
        (FORM_PATH, 303, form("Sam Sentinel", taken), own),
        (FORM_PATH, 422, form("Sam Again", taken.upper()), own),
        (FORM_PATH, 422, form("Sam\nSentinel", unique_email()), own),
        (FORM_PATH, 422, form("Sam", "not-an-address"), own),
        (FORM_PATH, 422, form("Sam", unique_email(), x="1"), own),
        (FORM_PATH, 403, form("Sam", unique_email()), {**as_form, "Origin": EVIL}),
        (FORM_PATH, 403, form("Sam", unique_email()), {**as_form, "Sec-Fetch-Site": "cross-site"}),
        (FORM_PATH, 415, form("Sam", unique_email()), {**own, "Content-Type": JSON_TYPE}),
        (FORM_PATH, 413, form("Sam", unique_email(), pad="x" * LIMIT), own),
        (JSON_PATH, 201, script("Sam Sentinel", unique_email()), as_json),
        (JSON_PATH, 422, script("Sam Again", taken.upper()), as_json),
        (JSON_PATH, 422, script("Sam", "not-an-address"), as_json),
        (JSON_PATH, 403, script("Sam", unique_email()), {**as_json, "Origin": EVIL}),
        (JSON_PATH, 400, f'{{"password": "{password}", ', as_json),
    ]
    for path, status, content, headers in attempts:
        response = await http.post(path, content=content, headers=headers)
        assert response.status_code == status, (path, content, page_errors(response.text) or response.text)
        assert_password_absent(response, password)
        if status == 303:
            assert_password_absent(await get_account(http, response), password)
    assert len(accounts.with_email(taken)) == 1
