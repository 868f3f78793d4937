"""SecurityHeaders, driven as an ASGI wrapper around small fake apps (no server)."""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signup_app.web import security_headers
from signup_app.web.security_headers import (
    HSTS,
    LOCKED_POLICY,
    SecurityHeaders,
    fill_signup_key,
    host_cookie_name,
    page_policy,
)

PAGE = (
    b"<!DOCTYPE html><html><head><style data-emotion>.a{color:red}</style>"
    b'<script src="/assets/app.js"></script><script>window.x = 1;</script>'
    b'<script type="module" async="">import "/assets/m.js";</script></head><body>'
    b'<form><input type="hidden" name="signup_key" value=""/></form><script>window.x = 1;</script></body></html>'
)
REAL_CONNECT_SOURCES = security_headers._connect_sources
NO_SCRIPT_PAGE = b"<html><head><style>.card{padding:1rem}</style></head><body><p>Hi</p></body></html>"


def source_hash(text: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text).digest()).decode() + "'"


def directives(policy: str) -> dict[str, list[str]]:
    return {words[0]: words[1:] for words in (part.split() for part in policy.split(";"))}


def http_scope(
    path: str = "/", method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None
) -> Scope:
    return {"type": "http", "method": method, "path": path, "headers": headers or [], "extensions": {}}


class FakeApp:
    """Answers every request with one response; remembers the scope it was given."""

    def __init__(
        self, body: bytes, content_type: bytes = b"text/html; charset=utf-8", **options: object
    ) -> None:
        self.body = body
        self.headers = [(b"content-type", content_type), *options.get("headers", [])]  # type: ignore[misc]
        self.chunked = bool(options.get("chunked"))
        self.pathsend: Path | None = options.get("pathsend")  # type: ignore[assignment]
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        headers = [*self.headers, (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if self.pathsend is not None:
            await send({"type": "http.response.pathsend", "path": str(self.pathsend)})
        elif self.chunked:
            half = len(self.body) // 2
            await send({"type": "http.response.body", "body": self.body[:half], "more_body": True})
            await send({"type": "http.response.body", "body": self.body[half:], "more_body": False})
        else:
            await send({"type": "http.response.body", "body": self.body})


async def call(app: SecurityHeaders, scope: Scope) -> tuple[dict[str, list[str]], bytes, list[Message]]:
    """The response's headers ({lower-case name: values}), its body and the raw messages."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    headers: dict[str, list[str]] = {}
    for key, value in sent[0]["headers"]:
        headers.setdefault(key.decode().lower(), []).append(value.decode())
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return headers, body, sent


def one(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name, [])
    assert len(values) <= 1, (name, values)
    return values[0] if values else None


CARD_STYLE = b".card{padding:1rem}"


@pytest.fixture(autouse=True)
def _same_origin_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security_headers, "_connect_sources", lambda: "'self'")


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    """A build whose one page is PAGE (in a subfolder: every HTML file of the build counts)."""
    (tmp_path / "build" / "about").mkdir(parents=True)
    (tmp_path / "build" / "about" / "index.html").write_bytes(PAGE)
    (tmp_path / "build" / "app.js").write_bytes(b"<script>not a page</script>")
    return tmp_path / "build"


@pytest.fixture
def wrap(build_dir: Path) -> Callable[..., SecurityHeaders]:
    """SecurityHeaders around an app, trusting the build above and the card stylesheet, in dev mode."""

    def make(app: ASGIApp, production: bool = False) -> SecurityHeaders:
        return SecurityHeaders(
            app, production=production, build_dir=build_dir, app_sources={source_hash(CARD_STYLE)}
        )

    return make


async def test_a_page_lists_each_inline_script_once_by_hash_and_allows_inline_styles(
    wrap: Callable[..., SecurityHeaders],
) -> None:
    headers, _body, _ = await call(wrap(FakeApp(PAGE)), http_scope("/"))
    assert directives(one(headers, "content-security-policy") or "") == {
        "default-src": ["'self'"],
        "script-src": ["'self'", source_hash(b"window.x = 1;"), source_hash(b'import "/assets/m.js";')],
        "style-src": ["'self'", "'unsafe-inline'"],
        "connect-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    assert one(headers, "x-content-type-options") == "nosniff"
    assert one(headers, "referrer-policy") == "same-origin"
    assert one(headers, "x-frame-options") == "DENY"


def test_inline_code_the_app_does_not_ship_is_never_listed(build_dir: Path) -> None:
    """A page's own style is listed by its hash (no 'unsafe-inline' without scripts); markup injected
    into a response (say a script in an echoed field) stays refused."""
    trusted = security_headers.build_sources(build_dir) | {source_hash(CARD_STYLE)}
    injected = NO_SCRIPT_PAGE.replace(b"<p>Hi</p>", b"<p><script>steal()</script><style>*{x:y}</style></p>")
    policy = directives(page_policy(injected, trusted))
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", source_hash(CARD_STYLE)]
    # Into a build page, too: the page's own scripts are listed, the injected one is not.
    policy = directives(page_policy(PAGE.replace(b"</body>", b"<script>steal()</script></body>"), trusted))
    assert source_hash(b"window.x = 1;") in policy["script-src"]
    assert source_hash(b"steal()") not in policy["script-src"]
    # Without a build (development), no inline script is listed at all.
    assert security_headers.build_sources(build_dir / "missing") == frozenset()
    assert directives(page_policy(PAGE, security_headers.build_sources(build_dir / "missing")))[
        "script-src"
    ] == ["'self'"]


def test_the_backend_on_another_host_is_allowed_to_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    config = SimpleNamespace(api_url="https://api.example.com:8443")
    monkeypatch.setattr("reflex.config.get_config", lambda: config)
    assert REAL_CONNECT_SOURCES() == ("'self' https://api.example.com:8443 wss://api.example.com:8443")
    # The page's JavaScript replaces localhost by its own host: 'self' covers it.
    config.api_url = "http://localhost:8000"
    assert REAL_CONNECT_SOURCES() == "'self'"


async def test_the_empty_key_is_filled_freshly_and_the_page_is_never_cached(
    wrap: Callable[..., SecurityHeaders],
) -> None:
    app = FakeApp(PAGE, headers=[(b"etag", b'"abc"'), (b"last-modified", b"Tue, 01 Dec 2026 00:00:00 GMT")])
    wrapped = wrap(app)
    keys = []
    for _ in range(2):
        headers, body, _ = await call(wrapped, http_scope("/"))
        [key] = [part.split(b'"')[0] for part in body.split(b'name="signup_key" value="')[1:]]
        assert len(key) == 32
        keys.append(key)
        assert one(headers, "content-length") == str(len(body))
        assert one(headers, "cache-control") == "no-store"
        assert "etag" not in headers
        assert "last-modified" not in headers
    assert keys[0] != keys[1]


def test_fill_signup_key_touches_only_an_empty_key() -> None:
    assert fill_signup_key(PAGE, lambda: "K" * 32).count(b'value="' + b"K" * 32 + b'"') == 1
    filled = PAGE.replace(b'value=""', b'value="kept"')
    assert fill_signup_key(filled, lambda: "K" * 32) == filled
    other = PAGE.replace(b'name="signup_key"', b'name="email"')
    assert fill_signup_key(other, lambda: "K" * 32) == other


async def test_a_page_without_a_key_keeps_its_validators(wrap: Callable[..., SecurityHeaders]) -> None:
    app = FakeApp(NO_SCRIPT_PAGE, headers=[(b"etag", b'"abc"')])
    headers, body, _ = await call(wrap(app), http_scope("/account"))
    assert body == NO_SCRIPT_PAGE
    assert one(headers, "etag") == '"abc"'
    assert one(headers, "cache-control") == "no-store"  # a user-data path


@pytest.mark.parametrize("shape", ["chunked", "gzip", "pathsend"])
async def test_pages_arriving_in_parts_compressed_or_as_a_file_are_read_whole(
    shape: str, tmp_path: Path, wrap: Callable[..., SecurityHeaders]
) -> None:
    if shape == "gzip":
        app = FakeApp(gzip.compress(PAGE), headers=[(b"content-encoding", b"gzip")])
    elif shape == "pathsend":
        (tmp_path / "index.html").write_bytes(PAGE)
        app = FakeApp(PAGE, pathsend=tmp_path / "index.html")
    else:
        app = FakeApp(PAGE, chunked=True)
    headers, body, sent = await call(wrap(app), http_scope("/"))
    assert b'name="signup_key" value=""' not in body
    assert body.startswith(b"<!DOCTYPE html>")
    assert "content-encoding" not in headers
    assert source_hash(b"window.x = 1;") in (one(headers, "content-security-policy") or "")
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


async def test_a_page_in_an_unreadable_encoding_is_passed_on_with_no_inline_script_allowed(
    wrap: Callable[..., SecurityHeaders],
) -> None:
    app = FakeApp(b"\x00brotli", headers=[(b"content-encoding", b"br")])
    headers, body, _ = await call(wrap(app), http_scope("/x.js"))
    assert body == b"\x00brotli"
    assert one(headers, "content-encoding") == "br"
    assert directives(one(headers, "content-security-policy") or "")["script-src"] == ["'self'"]


async def test_a_page_is_requested_whole_and_a_file_as_asked(wrap: Callable[..., SecurityHeaders]) -> None:
    asked = [
        (b"accept-encoding", b"gzip"),
        (b"range", b"bytes=0-10"),
        (b"if-none-match", b'"abc"'),
        (b"if-modified-since", b"Tue, 01 Dec 2026 00:00:00 GMT"),
        (b"accept", b"text/html"),
    ]
    app = FakeApp(PAGE)
    wrapped = wrap(app)
    await call(wrapped, http_scope("/", headers=asked))
    await call(wrapped, http_scope("/assets/app.js", headers=asked))
    assert app.scopes[0]["headers"] == [(b"accept", b"text/html")]
    assert app.scopes[1]["headers"] == asked


async def test_head_of_a_page_has_the_gets_headers_and_no_body(wrap: Callable[..., SecurityHeaders]) -> None:
    app = FakeApp(PAGE)
    wrapped = wrap(app)
    get_headers, _, _ = await call(wrapped, http_scope("/"))
    head_headers, head_body, _ = await call(wrapped, http_scope("/", method="HEAD"))
    assert app.scopes[1]["method"] == "GET"
    assert head_body == b""
    assert head_headers["content-length"] == get_headers["content-length"]
    assert head_headers["content-security-policy"] == get_headers["content-security-policy"]
    # A HEAD for a page answered with something else (a redirect, JSON) drops the body too.
    json_headers, json_body, _ = await call(
        wrap(FakeApp(b"{}", b"application/json")), http_scope("/signup", method="HEAD")
    )
    assert json_body == b""
    assert one(json_headers, "content-length") == "2"


@pytest.mark.parametrize(
    ("method", "path", "no_store"),
    [
        ("GET", "/ping", False),
        ("GET", "/api/openapi.json", False),
        ("GET", "/_health", False),
        ("POST", "/_upload", True),
        ("POST", "/api/signup", True),
        ("GET", "/api/signup", True),
        ("GET", "/signup", True),
        ("GET", "/signupx", False),
    ],
)
async def test_other_responses_get_the_locked_policy_and_no_store_where_user_data_goes(
    method: str, path: str, no_store: bool, wrap: Callable[..., SecurityHeaders]
) -> None:
    app = FakeApp(b'{"ok": true}', b"application/json")
    headers, body, _ = await call(wrap(app), http_scope(path, method))
    assert body == b'{"ok": true}'
    assert one(headers, "content-security-policy") == LOCKED_POLICY
    assert one(headers, "x-content-type-options") == "nosniff"
    assert (one(headers, "cache-control") == "no-store") is no_store


@pytest.mark.parametrize("production", [True, False])
async def test_production_adds_hsts_secure_cookies_and_host_prefixed_names(
    production: bool, wrap: Callable[..., SecurityHeaders]
) -> None:
    cookies = [
        (b"set-cookie", b"a=1; Path=/; HttpOnly"),
        (b"set-cookie", b"__Host-b=2; Path=/; Secure; HttpOnly"),
    ]
    app = FakeApp(b"{}", b"application/json", headers=cookies)
    headers, _, _ = await call(wrap(app, production=production), http_scope("/api/signup", "POST"))
    assert one(headers, "strict-transport-security") == (HSTS if production else None)
    secure = "; Secure" if production else ""
    assert headers["set-cookie"] == [f"a=1; Path=/; HttpOnly{secure}", "__Host-b=2; Path=/; Secure; HttpOnly"]
    assert host_cookie_name("session", production=production) == (
        "__Host-session" if production else "session"
    )


async def test_websockets_pass_through_untouched(wrap: Callable[..., SecurityHeaders]) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "websocket.accept"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/_event", "headers": []}
    await wrap(app, production=True)(scope, None, send)  # type: ignore[arg-type]
    assert seen == [scope]
    assert sent == [{"type": "websocket.accept"}]
