"""The origin decision shared by the websocket handshake and the HTTP routes."""

from __future__ import annotations

from typing import Any

import pytest
from reflex.config import get_config

from signup_app.web import origins

OWN = "http://127.0.0.1:8101"
PROXY = "10.0.0.2"


def scope(
    *headers: tuple[str, str],
    scheme: str = "http",
    host: str | None = "127.0.0.1:8101",
    peer: str = "192.0.2.5",
) -> dict[str, Any]:
    """An ASGI scope as Granian gives it: the peer, the scheme and the raw header lines."""
    lines = [(b"host", host.encode())] if host is not None else []
    lines += [(name.lower().encode(), value.encode()) for name, value in headers]
    return {"type": "http", "scheme": scheme, "client": (peer, 51000), "headers": lines}


@pytest.fixture(autouse=True)
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production mode, no further origins, 10.0.0.2 the only trusted proxy (each test may change these)."""
    monkeypatch.setattr(origins, "is_prod_mode", lambda: True)
    monkeypatch.delenv("REFLEX_CORS_ALLOWED_ORIGINS", raising=False)
    monkeypatch.setenv("SIGNUP_TRUSTED_PROXIES", PROXY)


XFP = "X-Forwarded-Proto"
XFH = "X-Forwarded-Host"
ORIGIN = "Origin"
FETCH = "Sec-Fetch-Site"

CASES: dict[str, tuple[dict[str, Any], bool]] = {
    # The page's own origin on any port, with no configuration.
    "own origin": (scope((ORIGIN, OWN)), False),
    "own origin, same-origin fetch": (scope((ORIGIN, OWN), (FETCH, "same-origin")), False),
    "own origin, letter case and a trailing slash": (scope((ORIGIN, "HTTP://127.0.0.1:8101/")), False),
    "own origin over TLS, default port": (
        scope((ORIGIN, "https://signup.example.com"), scheme="https", host="signup.example.com"),
        False,
    ),
    "explicit default port": (scope((ORIGIN, "http://example.com"), host="example.com:80"), False),
    "IPv6 host": (scope((ORIGIN, "http://[::1]:8101"), host="[::1]:8101"), False),
    "websocket scheme": (scope((ORIGIN, "https://a.example"), scheme="wss", host="a.example"), False),
    # Same host, another scheme or port: another origin.
    "other port": (scope((ORIGIN, "http://127.0.0.1:3000")), True),
    "other scheme": (scope((ORIGIN, "https://127.0.0.1:8101")), True),
    "other host": (scope((ORIGIN, "http://localhost:8101")), True),
    "foreign": (scope((ORIGIN, "https://evil.example")), True),
    "null": (scope((ORIGIN, "null")), True),
    "not an origin": (scope((ORIGIN, "javascript:alert(1)")), True),
    "junk port": (scope((ORIGIN, "http://127.0.0.1:99999")), True),
    "with a path": (scope((ORIGIN, "http://127.0.0.1:8101/evil")), True),
    "with credentials": (scope((ORIGIN, "http://user@127.0.0.1:8101")), True),
    "two Origin lines": (scope((ORIGIN, OWN), (ORIGIN, "https://evil.example")), True),
    "no Host": (scope((ORIGIN, OWN), host=None), True),
    # Sec-Fetch-Site.
    "cross-site fetch, own origin claimed": (scope((ORIGIN, OWN), (FETCH, "cross-site")), True),
    "cross-site fetch, no Origin": (scope((FETCH, "cross-site")), True),
    "same-site fetch, no Origin": (scope((FETCH, "same-site")), True),
    "same-origin fetch, no Origin": (scope((FETCH, "same-origin")), False),
    "typed in, no Origin": (scope((FETCH, "none")), False),
    "foreign origin, same-origin fetch claimed": (
        scope((ORIGIN, "https://evil.example"), (FETCH, "same-origin")),
        True,
    ),
    # Neither header: a script, not a browser's cross-origin request.
    "neither header": (scope(), False),
    # Forwarded scheme and host count only from a trusted proxy.
    "trusted proxy, forwarded https host": (
        scope(
            (ORIGIN, "https://signup.example.com"), (XFP, "https"), (XFH, "signup.example.com"), peer=PROXY
        ),
        False,
    ),
    "trusted proxy, forwarded https only": (
        scope((ORIGIN, "https://signup.example.com"), (XFP, "https"), host="signup.example.com", peer=PROXY),
        False,
    ),
    "trusted proxy: the internal host is no longer the page's": (
        scope((ORIGIN, OWN), (XFP, "https"), (XFH, "signup.example.com"), peer=PROXY),
        True,
    ),
    "trusted proxy, the right-most forwarded value counts": (
        scope(
            (ORIGIN, "https://signup.example.com"),
            (XFH, "evil.example"),
            (XFH, "signup.example.com"),
            (XFP, "http, https"),
            peer=PROXY,
        ),
        False,
    ),
    "trusted proxy, the client's own forwarded value does not count": (
        scope(
            (ORIGIN, "https://evil.example"),
            (XFH, "evil.example, signup.example.com"),
            (XFP, "https"),
            peer=PROXY,
        ),
        True,
    ),
    "untrusted peer, forwarded headers ignored": (
        scope((ORIGIN, "https://evil.example"), (XFP, "https"), (XFH, "evil.example")),
        True,
    ),
    "untrusted peer, forwarded scheme ignored": (
        scope((ORIGIN, "https://127.0.0.1:8101"), (XFP, "https")),
        True,
    ),
    "mapped trusted proxy": (
        scope(
            (ORIGIN, "https://signup.example.com"),
            (XFP, "https"),
            (XFH, "signup.example.com"),
            peer="::ffff:10.0.0.2",
        ),
        False,
    ),
    # In production the development frontend is just another origin.
    "development frontend in production": (scope((ORIGIN, "http://localhost:3000")), True),
}


@pytest.mark.parametrize(("request_scope", "refused"), CASES.values(), ids=CASES.keys())
def test_the_origin_decision(request_scope: dict[str, Any], refused: bool) -> None:
    assert origins.scope_is_cross_site(request_scope) is refused


def test_configured_origins_are_added(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFLEX_CORS_ALLOWED_ORIGINS", "https://www.example.com,https://app.example:8443")
    assert not origins.scope_is_cross_site(scope((ORIGIN, "https://www.example.com")))
    assert not origins.scope_is_cross_site(scope((ORIGIN, "https://app.example:8443"), (FETCH, "cross-site")))
    assert not origins.scope_is_cross_site(scope((ORIGIN, OWN)))  # the page's own still counts
    assert origins.scope_is_cross_site(scope((ORIGIN, "https://evil.example")))
    assert origins.scope_is_cross_site(scope((ORIGIN, "null")))


@pytest.mark.parametrize("frontend", ["http://localhost:3000", "http://127.0.0.1:3000", "http://[::1]:3000"])
def test_development_accepts_the_frontend_server(monkeypatch: pytest.MonkeyPatch, frontend: str) -> None:
    monkeypatch.setattr(origins, "is_prod_mode", lambda: False)
    monkeypatch.setattr(get_config(), "deploy_url", "http://localhost:3000")
    backend = scope((ORIGIN, frontend), host="localhost:8000")
    assert not origins.scope_is_cross_site(backend)
    assert origins.scope_is_cross_site(scope((ORIGIN, "http://localhost:3001"), host="localhost:8000"))


def test_the_websocket_callable_reads_the_handshake_scope() -> None:
    handshake = scope((ORIGIN, OWN)) | {"type": "websocket", "scheme": "ws"}
    assert origins.websocket_origin_allowed(OWN, {"asgi.scope": handshake})
    foreign = scope((ORIGIN, "https://evil.example")) | {"type": "websocket", "scheme": "ws"}
    assert not origins.websocket_origin_allowed("https://evil.example", {"asgi.scope": foreign})
