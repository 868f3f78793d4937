"""Security headers on every HTTP response, and a fresh signup_key in each prerendered form.

An ASGI wrapper (outermost of the app's own, see signup_app.signup_app) that adds:

- Content-Security-Policy. HTML documents get a policy that lists, by sha256, those
  of their inline scripts and styles the app itself ships: the inline scripts of
  Reflex's build (read once from the build folder) and the stylesheet the
  server-rendered pages inline. Anything else inline, say markup injected into a
  response, is listed by nobody and refused. Styles on Reflex's pages need
  'unsafe-inline' (emotion and the toaster create <style> elements at run time and
  take no nonce), tolerable because their scripts stay hash-only; the server-rendered
  pages get their stylesheet's hash. Every other response gets a policy allowing nothing.
- X-Content-Type-Options: nosniff, X-Frame-Options: DENY, Referrer-Policy: same-origin
  (not no-referrer: under no-referrer a browser sends `Origin: null` with the form's
  POST, which the form route must refuse as cross-site).
- Cache-Control: no-store on responses that carry user data: every answer to a
  method other than GET/HEAD, the signup routes, and the page whose key is filled in.
- Strict-Transport-Security in production, and Secure on every cookie there.

A prerendered page's empty `signup_key` input gets a fresh random key per response,
so the first no-JS submit is idempotent too; that response is never cached or
revalidated (no ETag, no Last-Modified).
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

import anyio
from reflex import config as reflex_config
from reflex.utils.exec import is_prod_mode
from reflex.utils.prerequisites import get_web_dir
from reflex_base import constants
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signup_app.web import routes
from signup_app.web.forms.declaration import new_hidden_value
from signup_app.web.forms.html import inline_stylesheet

HSTS = "max-age=63072000; includeSubDomains"
REFERRER_POLICY = "same-origin"
NO_STORE = "no-store"
# Paths whose every response carries user data (the form and JSON routes, sign-in, sign-out, the account).
USER_DATA_PATHS = (
    routes.SIGNUP_FORM,
    routes.SIGNUP_API,
    routes.SIGNIN_API,
    routes.SIGNIN_TICKET,
    routes.SIGNOUT,
    routes.ACCOUNT,
)
# Hosts the page's JavaScript replaces by its own (reflex's state.js SAME_DOMAIN_HOSTNAMES).
_SAME_DOMAIN_HOSTS = {"localhost", "0.0.0.0", "::", "0:0:0:0:0:0:0:0"}  # noqa: S104

# What no response outside an HTML document needs: nothing may load, frame it, or be posted from it.
LOCKED_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

# Responses escape client text (no "<" in it), so each lazy match runs once up to its own closing tag.
_SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)
_STYLE = re.compile(rb"<style\b[^>]*>(.*?)</style\s*>", re.DOTALL | re.IGNORECASE)
_SRC_ATTR = re.compile(rb"\ssrc\s*=", re.IGNORECASE)
_EMPTY_KEY_INPUT = re.compile(rb'<input\b[^>]*\bname="signup_key"[^>]*\bvalue=""', re.IGNORECASE)
# Request headers that would make the page come back compressed, partial or as a 304 (not rewritable).
_PAGE_REQUEST_DROPS = {b"accept-encoding", b"range", b"if-range", b"if-none-match", b"if-modified-since"}


def is_production() -> bool:
    """Whether the app runs in Reflex's production mode (HSTS and Secure cookies on)."""
    return is_prod_mode()


def host_cookie_name(name: str, *, production: bool | None = None) -> str:
    """The cookie's name: `__Host-` prefixed in production (Secure, Path=/, no Domain: host-only)."""
    return f"__Host-{name}" if (is_production() if production is None else production) else name


@functools.lru_cache(maxsize=512)
def _source_hash(content: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(content).digest()).decode() + "'"


def _connect_sources() -> str:
    """'self', plus the configured backend when the page's JavaScript really connects elsewhere."""
    sources = ["'self'"]
    api = urlsplit(reflex_config.get_config().api_url or "")
    if api.hostname and api.hostname not in _SAME_DOMAIN_HOSTS and api.scheme in ("http", "https"):
        socket_scheme = "wss" if api.scheme == "https" else "ws"
        sources += [f"{api.scheme}://{api.netloc}", f"{socket_scheme}://{api.netloc}"]
    return " ".join(sources)


def inline_sources(html: bytes) -> tuple[list[str], list[str]]:
    """The hashes of a document's inline scripts (those without src) and of its <style> elements."""
    scripts = [
        _source_hash(content) for attrs, content in _SCRIPT.findall(html) if not _SRC_ATTR.search(attrs)
    ]
    return scripts, [_source_hash(content) for content in _STYLE.findall(html)]


def build_sources(build_dir: Path) -> frozenset[str]:
    """The hashes of every inline script in the HTML files of Reflex's build (none without a build)."""
    hashes: set[str] = set()
    for page in sorted(build_dir.rglob("*.html")) if build_dir.is_dir() else ():
        hashes.update(inline_sources(page.read_bytes())[0])
    return frozenset(hashes)


def page_policy(html: bytes, trusted: Iterable[str] = frozenset(), connect_src: str = "'self'") -> str:
    """The Content-Security-Policy for one HTML document: those of its inline sources that are trusted."""
    trusted = frozenset(trusted)
    scripts, styles = inline_sources(html)
    script_hashes = [digest for digest in dict.fromkeys(scripts) if digest in trusted]
    if script_hashes:
        # One of the build's pages: its libraries create <style> elements at run time (see above).
        style_src = "'self' 'unsafe-inline'"
    else:
        style_src = " ".join(["'self'", *(digest for digest in dict.fromkeys(styles) if digest in trusted)])
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *script_hashes]),
            f"style-src {style_src}",
            f"connect-src {connect_src}",
            "img-src 'self' data:",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def default_build_dir() -> Path:
    """Where Reflex's production build keeps the pages it serves (as reflex.utils.exec.get_frontend_mount)."""
    return get_web_dir() / constants.Dirs.STATIC / reflex_config.get_config().frontend_path.strip("/")


def _app_sources() -> frozenset[str]:
    """The inline sources the app's own server-rendered pages carry: their stylesheet."""
    return frozenset({_source_hash(inline_stylesheet().encode())})


@functools.lru_cache(maxsize=64)
def _key_position(html: bytes) -> int:
    """Where the empty signup_key value of the page goes, or -1 (cached: the page is one file)."""
    match = _EMPTY_KEY_INPUT.search(html)
    return match.end() - 1 if match else -1


@functools.lru_cache(maxsize=64)
def _cached_policy(html: bytes, trusted: frozenset[str], connect_src: str) -> str:
    return page_policy(html, trusted, connect_src)


def fill_signup_key(html: bytes, new_key: Callable[[], str] = new_hidden_value) -> bytes:
    """The page with a fresh key in its empty signup_key input; unchanged when it has none."""
    at = _key_position(html)
    return html if at < 0 else html[:at] + new_key().encode() + html[at:]


def _looks_like_page(path: str) -> bool:
    """Paths the frontend answers with an HTML page rather than a file with an extension."""
    last = path.rsplit("/", 1)[-1]
    return "." not in last or last.endswith(".html")


def _is_user_data_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in USER_DATA_PATHS)


class SecurityHeaders:
    """ASGI wrapper: the headers above on every HTTP response (websockets pass through untouched)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        production: bool | None = None,
        build_dir: Path | None = None,
        app_sources: Iterable[str] | None = None,
    ) -> None:
        self.app = app
        self.production = is_production() if production is None else production
        self._build_dir = build_dir
        self._app_sources = app_sources
        self._connect_src: str | None = None
        self._trusted: frozenset[str] | None = None
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", REFERRER_POLICY.encode()),
            *([(b"strict-transport-security", HSTS.encode())] if self.production else []),
        ]
        self._page_headers = common
        self._locked_headers = [(b"content-security-policy", LOCKED_POLICY.encode()), *common]

    @property
    def connect_src(self) -> str:
        """The policy's connect-src (read on first use: the configuration is loaded by then)."""
        if self._connect_src is None:
            self._connect_src = _connect_sources()
        return self._connect_src

    @property
    def trusted(self) -> frozenset[str]:
        """The inline sources the app ships (read on first use: the build exists by then)."""
        if self._trusted is None:
            build = build_sources(self._build_dir or default_build_dir())
            own = _app_sources() if self._app_sources is None else frozenset(self._app_sources)
            self._trusted = build | own
        return self._trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, setting the headers on its response (pages get their own policy)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        # A HEAD for a page is answered as its GET without the body, so its headers are the GET's.
        head = method == "HEAD" and _looks_like_page(path)
        if method in ("GET", "HEAD") and _looks_like_page(path):
            # The whole page, uncompressed, every time: its key and policy are written per response.
            scope = {
                **scope,
                "method": "GET",
                "headers": [(k, v) for k, v in scope["headers"] if k.lower() not in _PAGE_REQUEST_DROPS],
            }
        no_store = method not in ("GET", "HEAD") or _is_user_data_path(path)
        held: list[Message] = []  # the start of an HTML response, then its body parts

        async def send_with_headers(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                if _content_type(message).startswith(b"text/html"):
                    held.append(message)  # sent once the body is known
                    return
                await send(
                    {
                        **message,
                        "headers": self._with_headers(message.get("headers", []), None, no_store=no_store),
                    }
                )
            elif held and kind in ("http.response.body", "http.response.pathsend"):
                if kind == "http.response.pathsend":
                    held.append({"body": await anyio.Path(message["path"]).read_bytes()})
                else:
                    held.append(message)
                    if message.get("more_body", False):
                        return
                await self._send_page(held, send, no_store=no_store, head=head)
                held.clear()
            elif head and kind in ("http.response.body", "http.response.pathsend"):
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
            else:
                await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _send_page(self, held: list[Message], send: Send, *, no_store: bool, head: bool) -> None:
        """Send a buffered HTML response with its own policy (and a fresh key if it has an empty one)."""
        start, parts = held[0], held[1:]
        headers = MutableHeaders(raw=list(start.get("headers", [])))
        body = b"".join(part.get("body", b"") for part in parts)
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
            del headers["content-encoding"]
        if encoding in ("", "identity", "gzip"):
            policy = _cached_policy(body, self.trusted, self.connect_src)
            filled = fill_signup_key(body)
            if filled != body:
                body, no_store = filled, True
                # Never revalidated: a 304 would bring back the key an earlier response carried.
                for name in ("etag", "last-modified", "accept-ranges"):
                    del headers[name]
        else:
            policy = page_policy(b"", connect_src=self.connect_src)  # unreadable: no inline code runs
        headers["content-length"] = str(len(body))
        await send({**start, "headers": self._with_headers(headers.raw, policy, no_store=no_store)})
        await send({"type": "http.response.body", "body": b"" if head else body})

    def _with_headers(
        self, raw: list[tuple[bytes, bytes]], policy: str | None, *, no_store: bool
    ) -> list[tuple[bytes, bytes]]:
        """The response's headers with ours set (replacing any of the same name); policy None: locked."""
        ours = self._page_headers if policy is not None else self._locked_headers
        if policy is not None:
            ours = [(b"content-security-policy", policy.encode()), *ours]
        if no_store:
            ours = [*ours, (b"cache-control", NO_STORE.encode())]
        names = {name for name, _ in ours}
        kept = [(name, value) for name, value in raw if name.lower() not in names]
        if self.production:
            kept = [
                (name, value + b"; Secure")
                if name.lower() == b"set-cookie" and not _is_secure(value.decode("latin-1"))
                else (name, value)
                for name, value in kept
            ]
        return kept + ours


def _content_type(start: Message) -> bytes:
    return next((v.lower() for k, v in start.get("headers", []) if k.lower() == b"content-type"), b"")


def _is_secure(cookie: str) -> bool:
    return any(part.strip().lower() == "secure" for part in cookie.split(";")[1:])
