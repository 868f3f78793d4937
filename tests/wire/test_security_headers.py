"""Security headers on every kind of response of `reflex run --env prod`, and the prerendered page's key.

The test server runs in production mode (over plain http on 127.0.0.1), so HSTS and Secure
cookies are on.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import httpx
import pytest

from tests.harness.data import signup_fields
from tests.harness.server import AppServer
from tests.harness.wire import EVIL, Accounts, browser_headers, get_welcome, post_form

pytestmark = pytest.mark.wire

KEY_FORMAT = re.compile(r"[A-Za-z0-9_-]{32}")
COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
}


def fields(tag: str, **extra: str) -> dict[str, str]:
    return signup_fields(tag, name="Header Tester", **extra)


def directives(response: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: sources}."""
    policy = response.headers.get("content-security-policy", "")
    parsed = [part.split() for part in policy.split(";") if part.strip()]
    return {words[0]: words[1:] for words in parsed}


def assert_common(response: httpx.Response, *, no_store: bool) -> dict[str, list[str]]:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, f"{where}: {name}"
    policy = directives(response)
    assert policy.get("frame-ancestors") == ["'none'"], f"{where}: {policy}"
    assert policy.get("base-uri") == ["'none'"], f"{where}: {policy}"
    if no_store:
        assert response.headers.get("cache-control") == "no-store", where
    return policy


class _Page(HTMLParser):
    """The inline scripts and styles of a page, and its signup_key inputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.inline_scripts: list[str] = []
        self.styles: list[str] = []
        self.keys: list[str | None] = []
        self.script_srcs: list[str | None] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.script_srcs.append(attributes.get("src"))
            self._in = "script" if "src" not in attributes else None
            if self._in:
                self.inline_scripts.append("")
        elif tag == "style":
            self._in = "style"
            self.styles.append("")
        elif tag == "input" and attributes.get("name") == "signup_key":
            self.keys.append(attributes.get("value"))

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.inline_scripts[-1] += data
        elif self._in == "style":
            self.styles[-1] += data


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


async def test_the_prerendered_page_lists_each_inline_script_by_hash(http: httpx.AsyncClient) -> None:
    response = await http.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    policy = assert_common(response, no_store=True)
    page = parse(response.text)
    assert page.inline_scripts, "the build's page has inline scripts: the policy must list them"
    assert policy["script-src"] == ["'self'", *dict.fromkeys(map(sha256_source, page.inline_scripts))]
    assert policy["default-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    # Rewritten per response: sent whole and uncompressed, never revalidated.
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(response.content)
    assert "etag" not in response.headers
    assert "last-modified" not in response.headers


async def test_every_get_of_the_page_carries_a_fresh_key(http: httpx.AsyncClient) -> None:
    keys = []
    for _ in range(2):
        response = await http.get(
            "/", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT", "Accept-Encoding": "gzip"}
        )
        assert response.status_code == 200
        [key] = parse(response.text).keys
        assert key and KEY_FORMAT.fullmatch(key), key
        keys.append(key)
    assert keys[0] != keys[1]

    head = await http.head("/")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == response.headers["content-length"]
    assert head.headers["content-security-policy"] == response.headers["content-security-policy"]
    assert head.headers["cache-control"] == "no-store"


async def test_the_same_form_sent_twice_with_the_pages_key_gets_one_account(
    http: httpx.AsyncClient, app_server: AppServer, accounts: Accounts
) -> None:
    [key] = parse((await http.get("/")).text).keys
    assert key
    submitted = fields("prerendered-key", signup_key=key)
    first = await post_form(http, app_server, submitted)
    again = await post_form(http, app_server, submitted)
    assert (first.status_code, again.status_code) == (303, 303), again.text
    [account] = accounts.with_email(submitted["email"])
    assert account.name == "Header Tester"
    assert "Welcome, Header Tester" in (await get_welcome(http, again)).text


async def test_form_route_responses(http: httpx.AsyncClient, app_server: AppServer) -> None:
    rejected = await post_form(http, app_server, fields("header-422", email="not-an-address"))
    assert rejected.status_code == 422
    policy = assert_common(rejected, no_store=True)
    # The server-rendered page has no script, and its one inline <style> is allowed by its hash.
    page = parse(rejected.text)
    assert page.script_srcs == []
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", *map(sha256_source, page.styles)]

    created = await post_form(http, app_server, fields("header-303"))
    assert created.status_code == 303
    assert_common(created, no_store=True)
    [cookie] = created.headers.get_list("set-cookie")
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith("__Host-signup_welcome="), cookie
    assert {"secure", "httponly", "path=/"} <= set(attributes), cookie
    assert not any(part.startswith("domain=") for part in attributes), cookie

    welcome = await get_welcome(http, created)
    assert "Welcome, Header Tester" in welcome.text
    assert_common(welcome, no_store=True)
    opened = await http.get("/signup")  # the form's address: a redirect to /
    wrong_method = await http.put("/signup", headers=browser_headers(app_server))
    assert (opened.status_code, wrong_method.status_code) == (303, 405)
    assert_common(opened, no_store=True)
    assert_common(wrong_method, no_store=True)


async def test_json_route_responses(http: httpx.AsyncClient) -> None:
    answers = [
        (201, await http.post("/api/signup", json=fields("header-json"))),
        (422, await http.post("/api/signup", json={"name": ""})),
        (400, await http.post("/api/signup", content=b"{", headers={"Content-Type": "application/json"})),
        (405, await http.get("/api/signup")),
        (403, await http.post("/api/signup", json=fields("header-403"), headers={"Origin": EVIL})),
    ]
    for status, response in answers:
        assert response.status_code == status, response.text
        policy = assert_common(response, no_store=True)
        assert policy["default-src"] == ["'none'"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ping", 200),
        ("/_health", 200),
        ("/api/openapi.json", 200),
        ("/signup.css", 200),
        ("/no-such-page", 404),
    ],
)
async def test_other_responses(http: httpx.AsyncClient, path: str, status: int) -> None:
    response = await http.get(path)
    assert response.status_code == status, path
    assert_common(response, no_store=False)


async def test_the_builds_scripts_and_a_missing_asset(http: httpx.AsyncClient) -> None:
    html = (await http.get("/")).text
    modules = re.findall(r'href="(/assets/[^"]+\.js)"', html)
    assert modules, html
    script = await http.get(modules[0], headers={"Accept-Encoding": "gzip"})
    assert script.status_code == 200
    # Files keep their precompressed form and their validators: only pages are rewritten.
    assert script.headers.get("content-encoding") == "gzip"
    assert "etag" in script.headers
    assert directives(script)["default-src"] == ["'none'"]
    assert_common(script, no_store=False)

    missing = await http.get("/assets/missing.js", headers={"Accept-Encoding": "gzip"})
    assert missing.status_code == 404
    policy = assert_common(missing, no_store=False)
    # Reflex answers with its 404 page, precompressed: read, and its inline scripts listed.
    scripts = parse(missing.text).inline_scripts
    assert policy["script-src"] == ["'self'", *dict.fromkeys(map(sha256_source, scripts))]
