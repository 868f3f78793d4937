"""The sign-in cookie: set only by HTTP responses, read by the routes and the websocket alike.

The cookie holds the session token and nothing else: HttpOnly (page JavaScript cannot
read it), SameSite=Lax, Path=/, and in production Secure with the ``__Host-`` prefix. A
Reflex event handler cannot send Set-Cookie, so a sign-in made over the websocket hands
its tab a ticket instead, which the tab exchanges by a POST (see transports.session_routes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import anyio.to_thread
from starlette.requests import cookie_parser
from starlette.responses import Response

from signup_app import settings
from signup_app.accounts import Accepted, Unavailable, sessions
from signup_app.accounts.outages import unavailable
from signup_app.web import revocation
from signup_app.web.security_headers import host_cookie_name, is_production

_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
# (pattern in the User-Agent, name), first match wins: Edge and Opera also say Chrome, Chrome says Safari.
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def cookie_name() -> str:
    """``session``, or ``__Host-session`` in production."""
    return host_cookie_name("session")


def token_from_cookies(cookie_header: str | None) -> str | None:
    """The session token in a Cookie header, or None (absent, or not shaped like a token).

    Parsed as browsers send cookies (Starlette's parser): another cookie on the host with an odd
    value or name (JSON, spaces) must not hide this one, as it would from http.cookies.
    """
    if not cookie_header:
        return None
    token = cookie_parser(cookie_header).get(cookie_name())
    return token if token is not None and _TOKEN.fullmatch(token) else None


def set_cookie(response: Response, token: str, config: settings.Settings | None = None) -> None:
    """Put the token in the response's Set-Cookie, lasting as long as the session can."""
    config = config or settings.load()
    response.set_cookie(
        cookie_name(),
        token,
        max_age=config.session_absolute_days * 86400,
        path="/",
        secure=is_production(),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response) -> None:
    """Tell the browser to drop the cookie."""
    response.delete_cookie(cookie_name(), path="/", secure=is_production(), httponly=True, samesite="lax")


def device_summary(user_agent: str | None) -> str:
    """A short, human description of a User-Agent ("Chrome on Linux"), shown beside the session."""
    agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), "A browser" if agent else "A client")
    system = next((name for mark, name in _SYSTEMS if mark in agent), None)
    return f"{browser} on {system}" if system else browser


def account_id(result: Accepted[object]) -> int:
    """The account a sign-in form's accepted result signed in (``Form.signs_in``: ``public["id"]``)."""
    return int(result.public["id"])  # type: ignore[arg-type]


async def start_session(account: int, headers: Mapping[str, str], response: Response) -> Response:
    """The response, with the cookie of a new session for the account (``headers``: the request's).

    Every sign-in gets its own token; the session the request's cookie carried, if any, ends.
    """
    token = await anyio.to_thread.run_sync(sessions.start, account, device_summary(headers.get("user-agent")))
    if (earlier := token_from_cookies(headers.get("cookie"))) is not None:
        await revocation.announce(await anyio.to_thread.run_sync(sessions.revoke_token, earlier))
    set_cookie(response, token)
    return response


async def signed_in(result: Accepted[object], headers: Mapping[str, str], response: Response) -> Response:
    """start_session for an accepted sign-in form's result.

    A database that fails here turns it into the unavailable answer the transport renders
    (raised as SessionUnavailableError).
    """
    try:
        return await start_session(account_id(result), headers, response)
    except Exception as exc:
        raise SessionUnavailableError(unavailable("sign-in", exc)) from exc


class SessionUnavailableError(Exception):
    """The sign-in was accepted but its session could not be started: nothing was signed in."""

    def __init__(self, result: Unavailable) -> None:
        super().__init__(result.message)
        self.result = result


async def resolve(token: str | None) -> sessions.Viewer | None:
    """Who a cookie's token signs in now (checked against the database), or None."""
    return None if token is None else await anyio.to_thread.run_sync(sessions.resolve, token)


# Each open socket's sign-in token (from its handshake's Cookie), by Socket.IO session id.
# Only in this worker's memory: Reflex's saved router data carries no cookie (hostile_events).
_connection_tokens: dict[str, str] = {}


def remember_connection(sid: str, cookie_header: str | None) -> None:
    """Keep the sign-in token a socket's handshake carried, if any."""
    if (token := token_from_cookies(cookie_header)) is not None:
        _connection_tokens[sid] = token


def forget_connection(sid: str) -> None:
    """Drop a closed socket's token."""
    _connection_tokens.pop(sid, None)


async def connection_viewer(sid: str) -> sessions.Viewer | None:
    """Who the socket's handshake cookie signs in now (checked against the database), or None."""
    return await resolve(_connection_tokens.get(sid))
