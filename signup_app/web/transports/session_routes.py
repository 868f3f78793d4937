"""The sign-in routes only HTTP can serve: the ticket exchange, sign-out, and the account page.

Each sets or clears the sign-in cookie, which no websocket event can do.
"""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from signup_app.accounts import sessions
from signup_app.accounts.outages import unavailable
from signup_app.accounts.validation import FORM
from signup_app.web import revocation, routes, signing_in
from signup_app.web.forms import html
from signup_app.web.forms.declaration import Form
from signup_app.web.pages.account_html import account_body, account_page, date_time, long_date
from signup_app.web.security_headers import default_build_dir
from signup_app.web.transports import http
from signup_app.web.urls import page_url

MAX_BODY_BYTES = 4 * 1024
EXPIRED = "That sign-in has expired. Sign in with your email and password."
# Where the server fills in the account page for browsers without JavaScript (see pages.account).
NOSCRIPT_SLOT = b'<noscript id="account-static"></noscript>'


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(page_url(path), status_code=303)


async def _fields(request: Request) -> dict[str, str] | None:
    if http.media_type(request) != "application/x-www-form-urlencoded":
        return None
    try:
        body = await http.read_body(request, MAX_BODY_BYTES)
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8))
    except (http.BodyTooLargeError, ValueError):
        return None


def _refused(request: Request) -> Response | None:
    """The answer to a request these routes refuse before reading it, or None."""
    if request.method != "POST":
        return PlainTextResponse("Use POST.", status_code=405, headers={"Allow": "POST"})
    if http.is_cross_site(request):
        return PlainTextResponse(http.CROSS_SITE, status_code=403)
    return None


def ticket_route(signin: Form) -> Route:
    """POST routes.SIGNIN_TICKET: a tab's ticket (and its tab token) in, the sign-in cookie out."""

    def signin_page(status: int, message: str) -> HTMLResponse:
        return HTMLResponse(html.form_page(signin, {FORM: message}, {}, {}), status_code=status)

    async def exchange(request: Request) -> Response:
        """Redeem the ticket once, from its own tab: set the cookie and go to the account page."""
        if (refused := _refused(request)) is not None:
            return refused
        fields = await _fields(request) or {}
        ticket, tab = fields.get("ticket", ""), fields.get("tab", "")
        try:
            account = (
                await anyio.to_thread.run_sync(sessions.redeem_ticket, ticket, tab)
                if ticket and tab
                else None
            )
            if account is None:
                return signin_page(400, EXPIRED)
            return await signing_in.start_session(account, request.headers, _see_other(routes.ACCOUNT))
        except Exception as exc:  # noqa: BLE001  (an outage or a bug: the page says so)
            result = unavailable("sign-in", exc)
            return signin_page(503 if result.retry_after is not None else 500, result.message)

    return Route(routes.SIGNIN_TICKET, exchange, methods=http.ALL_METHODS)


async def signout(request: Request) -> Response:
    """Sign out this device, one other session (``session``), or every other one (``others``)."""
    if (refused := _refused(request)) is not None:
        return refused
    fields = await _fields(request) or {}
    token = signing_in.token_from_cookies(request.headers.get("cookie"))
    viewer = await signing_in.resolve(token)
    if viewer is None:
        response = _see_other(routes.SIGNIN)
        signing_in.clear_cookie(response)
        return response
    other = fields.get("session", "")
    if fields.get("others") == "1":
        revoked = await anyio.to_thread.run_sync(sessions.revoke_others, viewer.account_id, viewer.session_id)
    else:
        # One session of this account: the one named, or this device's.
        target = int(other) if other.isdigit() else viewer.session_id
        revoke = functools.partial(sessions.revoke, target, account_id=viewer.account_id)
        revoked = await anyio.to_thread.run_sync(revoke)
    this_device = viewer.session_id in revoked
    await revocation.announce(revoked)
    if not this_device:
        return _see_other(routes.ACCOUNT)
    response = _see_other(routes.SIGNIN)
    signing_in.clear_cookie(response)
    return response


@functools.cache
def _built_page(build_dir: Path) -> bytes | None:
    """Reflex's prerendered account page, in a production build (None in development)."""
    for candidate in (build_dir / "account" / "index.html", build_dir / "account.html"):
        if candidate.is_file():
            page = candidate.read_bytes()
            return page if NOSCRIPT_SLOT in page else None
    return None


async def account(request: Request) -> Response:
    """The account page: 303 to sign-in without a valid session, else the page with its data filled in.

    With JavaScript the page fills itself over the websocket; without, the server's copy of
    the account card (in the page's <noscript>) is what shows.
    """
    token = signing_in.token_from_cookies(request.headers.get("cookie"))
    viewer = await signing_in.resolve(token)
    found = await anyio.to_thread.run_sync(sessions.account, viewer.account_id) if viewer else None
    if viewer is None or found is None:
        response = _see_other(routes.SIGNIN)
        if token:
            signing_in.clear_cookie(response)
        return response
    active = await anyio.to_thread.run_sync(sessions.active_sessions, viewer.account_id)
    body = account_body(
        found.name,
        found.email,
        long_date(found.created_at),
        [(row.id, row.device, date_time(row.last_seen_at), row.id == viewer.session_id) for row in active],
    )
    built = _built_page(default_build_dir())
    if built is None:
        return HTMLResponse(account_page(body), headers={"Cache-Control": "no-store"})
    filled = built.replace(
        NOSCRIPT_SLOT, b'<noscript id="account-static">' + body.encode() + b"</noscript>", 1
    )
    return HTMLResponse(filled, headers={"Cache-Control": "no-store"})


def session_routes(signin: Form) -> list[Route]:
    """The ticket exchange, sign-out, and the account page's GET."""
    return [
        ticket_route(signin),
        Route(routes.SIGNOUT, signout, methods=http.ALL_METHODS),
        Route(routes.ACCOUNT, account, methods=["GET", "HEAD"]),
    ]
