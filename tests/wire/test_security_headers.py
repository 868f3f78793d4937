"""Security headers on every kind of response of `reflex run --env prod`: the app's routes and Reflex's.

The values are unit-tested (tests/signup_app/web/test_security_headers.py); here each response the
real server gives carries them. It runs in production mode (over plain http on 127.0.0.1), so HSTS
and Secure cookies are on.
"""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from tests.harness.data import signup_fields
from tests.harness.server import AppServer
from tests.harness.wire import EVIL, browser_headers, post_form

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


def inline_sources(html: str, tag: str = "script") -> list[str]:
    """'self' and the hash of each distinct inline <script> (or <style>) of a page, as its policy lists them."""
    bodies = re.findall(rf"<{tag}\b(?![^>]*\bsrc=)[^>]*>(.*?)</{tag}>", html, re.DOTALL)
    digests = (base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() for body in bodies)
    return ["'self'", *dict.fromkeys(f"'sha256-{digest}'" for digest in digests)]


async def test_the_prerendered_page_is_rewritten_for_each_response(http: httpx.AsyncClient) -> None:
    """Its inline scripts listed by hash, a fresh key; sent whole and uncompressed, never revalidated."""
    keys = []
    for _ in range(2):
        page = await http.get(
            "/", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT", "Accept-Encoding": "gzip"}
        )
        assert page.status_code == 200
        listed = inline_sources(page.text)
        assert len(listed) > 1, "the build's page has inline scripts: the policy must list them"
        policy = assert_common(page, no_store=True)
        assert policy["script-src"] == listed
        # The page's policy, not the locked one, and the backend on this host (the rest: unit-tested).
        assert policy["default-src"] == policy["connect-src"] == ["'self'"]
        assert not {"content-encoding", "etag", "last-modified"} & set(page.headers), page.headers
        assert int(page.headers["content-length"]) == len(page.content)
        keys += re.findall(r'name="signup_key" value="([^"]*)"', page.text)
    assert len(keys) == 2 and keys[0] != keys[1], keys
    assert all(KEY_FORMAT.fullmatch(key) for key in keys), keys

    head = await http.head("/")
    assert (head.status_code, head.content) == (200, b"")
    for name in ("content-length", "content-security-policy", "cache-control"):
        assert head.headers[name] == page.headers[name], name


async def test_form_route_responses(http: httpx.AsyncClient, app_server: AppServer) -> None:
    rejected = await post_form(http, app_server, fields("header-422", email="not-an-address"))
    assert rejected.status_code == 422
    policy = assert_common(rejected, no_store=True)
    # The server-rendered page has no script, and its one inline <style> is allowed by its hash.
    assert "<script" not in rejected.text
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == inline_sources(rejected.text, "style")

    created = await post_form(http, app_server, fields("header-303"))
    assert (created.status_code, created.headers["location"]) == (303, "/account")
    assert_common(created, no_store=True)
    # The page it leads to: the build's, its account card filled in by the server (cookie: tests/routes).
    cookie = {"Cookie": f"__Host-session={created.cookies['__Host-session']}"}
    account = await http.get("/account", headers=cookie)
    assert account.status_code == 200 and '<dd id="account-name">Header Tester</dd>' in account.text
    listed = inline_sources(account.text)
    assert len(listed) > 1 and assert_common(account, no_store=True)["script-src"] == listed
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
    assert policy["script-src"] == inline_sources(missing.text)
