"""Which pages may drive the signup: the page's own origin, plus any configured.

One decision for the websocket handshake (installed as python-engineio's
cors_allowed_origins callable) and both HTTP routes (transports/http.py):

- An Origin listed in REFLEX_CORS_ALLOWED_ORIGINS is accepted.
- Otherwise `Sec-Fetch-Site: cross-site` is refused.
- An Origin is accepted when it is the page's own: the request's scheme, Host
  and port, as a trusted proxy (SIGNUP_TRUSTED_PROXIES) names them with
  X-Forwarded-Proto and X-Forwarded-Host. In development, also the frontend's
  origin (Reflex's deploy_url, e.g. http://localhost:3000). `null` and any other
  origin are refused.
- Without an Origin the request is not a browser's cross-origin request (every
  current browser sends Origin on a cross-origin POST and on every websocket
  handshake): accepted, unless Sec-Fetch-Site says it came from another origin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from reflex.config import get_config
from reflex.utils.exec import is_prod_mode

from signup_app import settings
from signup_app.web.client_address import header_lines, is_trusted_proxy

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
# Without an Origin, a browser's Sec-Fetch-Site must say the request is its own page's (or typed in).
SAME_ORIGIN_FETCH = ("same-origin", "none")


def normalise_origin(value: str | None) -> str | None:
    """`scheme://host[:port]` in lower case without a default port, or None if value is no http(s) origin."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _last_value(lines: list[str]) -> str | None:
    """The right-most value of a header across its lines: the one our own proxy wrote."""
    values = [value.strip() for line in lines for value in line.split(",") if value.strip()]
    return values[-1] if values else None


def page_origin(scope: Mapping[str, Any]) -> str | None:
    """The origin the client reached: the ASGI scope's scheme and Host, or what a trusted proxy says."""
    headers = scope.get("headers") or []
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    host = next(iter(header_lines(headers, b"host")), None)
    peer = scope.get("client")
    if is_trusted_proxy(peer[0] if peer else None):
        scheme = _last_value(header_lines(headers, b"x-forwarded-proto")) or scheme
        host = _last_value(header_lines(headers, b"x-forwarded-host")) or host
    if not host:
        return None
    return normalise_origin(f"{scheme.lower()}://{host}")


def configured_origins() -> set[str]:
    """The settings' REFLEX_CORS_ALLOWED_ORIGINS (rxconfig passes them to Reflex), normalised; '*' kept as is."""
    origins: set[str] = set()
    for value in settings.load().cors_allowed_origins:
        origin = "*" if value.strip() == "*" else normalise_origin(value)
        if origin:
            origins.add(origin)
    return origins


def development_origins() -> set[str]:
    """In development the page comes from the frontend server (deploy_url), not the backend."""
    if is_prod_mode():
        return set()
    frontend = normalise_origin(get_config().deploy_url)
    if not frontend:
        return set()
    origins = {frontend}
    parts = urlsplit(frontend)
    if f"[{parts.hostname}]" in LOOPBACK_HOSTS or parts.hostname in LOOPBACK_HOSTS:
        suffix = f":{parts.port}" if parts.port else ""
        origins.update(f"{parts.scheme}://{host}{suffix}" for host in LOOPBACK_HOSTS)
    return origins


def is_cross_site(origin: str | None, sec_fetch_site: str | None, scope: Mapping[str, Any]) -> bool:
    """Whether a request with these Origin and Sec-Fetch-Site headers must be refused (see the module)."""
    configured = configured_origins()
    if origin is not None:
        normalised = normalise_origin(origin)
        if "*" in configured or (normalised is not None and normalised in configured):
            return False
    if sec_fetch_site is not None and sec_fetch_site.strip().lower() == "cross-site":
        return True
    if origin is None:
        return sec_fetch_site is not None and sec_fetch_site.strip().lower() not in SAME_ORIGIN_FETCH
    normalised = normalise_origin(origin)
    if normalised is None:  # "null", or not an http(s) origin
        return True
    return normalised != page_origin(scope) and normalised not in development_origins()


def scope_is_cross_site(scope: Mapping[str, Any]) -> bool:
    """is_cross_site for an ASGI scope's own Origin and Sec-Fetch-Site headers."""
    headers = scope.get("headers") or []
    origins = header_lines(headers, b"origin")
    fetch_sites = header_lines(headers, b"sec-fetch-site")
    if len(origins) > 1 or len(fetch_sites) > 1:
        return True  # a browser sends one of each: never guess which one counts
    return is_cross_site(next(iter(origins), None), next(iter(fetch_sites), None), scope)


def websocket_origin_allowed(_origin: str | None, environ: Mapping[str, Any]) -> bool:
    """python-engineio's cors_allowed_origins callable: whether the handshake's Origin may connect."""
    scope = environ.get("asgi.scope") or {}
    return not scope_is_cross_site(scope)
