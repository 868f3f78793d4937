"""The form POST transport: the signup form's `action`, used when JavaScript is off.

Same action, same messages: a rejected submit re-renders the form with each
field's error; a created account answers 303 to a confirmation page.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import parse_qsl, quote, unquote

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from signup_app.accounts import Registered
from signup_app.accounts.registration import SERVER_ERROR, TemporarilyUnavailable, register_account_in_thread
from signup_app.accounts.validation import FIELDS, FORM
from signup_app.web.pages.signup_html import signup_form_page, welcome_page
from signup_app.web.security_headers import host_cookie_name, is_production
from signup_app.web.transports.http import (
    ALL_METHODS,
    CROSS_SITE,
    BodyTooLarge,
    is_cross_site,
    media_type,
    read_body,
    request_address,
)

logger = logging.getLogger(__name__)

PATH = "/signup"
WELCOME_PATH = "/signup/welcome"
MAX_BODY_BYTES = 16 * 1024
_WELCOME_COOKIE = "signup_welcome"

NOT_A_FORM = "The form could not be read. Reload the page and try again."
TOO_LARGE = "The form is too large. Shorten your entries and try again."


def _form_page(status: int, errors: dict[str, str], values: dict[str, str] | None = None) -> HTMLResponse:
    # A fresh idempotency key per rendered form (see Account.signup_key).
    page = signup_form_page(PATH, errors, values or {}, signup_key=secrets.token_urlsafe(24))
    return HTMLResponse(page, status_code=status)


def _parse_form(body: bytes) -> dict[str, str]:
    """The urlencoded fields; raises ValueError on bytes that are not UTF-8."""
    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=len(FIELDS) + 5)
    return dict(pairs)


async def submit(request: Request) -> Response:
    """Create an account from a form-encoded POST."""
    if request.method in ("GET", "HEAD"):
        # Someone opened the form's address: show them the form.
        return RedirectResponse("/", status_code=303)
    if request.method != "POST":
        return PlainTextResponse("Use POST.", status_code=405, headers={"Allow": "GET, HEAD, POST"})
    if is_cross_site(request):
        return _form_page(403, {FORM: CROSS_SITE})
    if media_type(request) != "application/x-www-form-urlencoded":
        return _form_page(415, {FORM: NOT_A_FORM})
    try:
        fields = _parse_form(await read_body(request, MAX_BODY_BYTES))
    except BodyTooLarge:
        return _form_page(413, {FORM: TOO_LARGE})
    except ValueError:
        return _form_page(400, {FORM: NOT_A_FORM})

    kept = {
        k: fields[k] for k in ("name", "email") if isinstance(fields.get(k), str) and len(fields[k]) <= 1000
    }
    try:
        result = await register_account_in_thread(fields, client_address=request_address(request))
    except TemporarilyUnavailable as exc:
        logger.log(exc.log_level, "signup unavailable: %s", exc)
        response = _form_page(503, {FORM: exc.message}, kept)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Exception:
        logger.exception("signup failed")
        return _form_page(500, {FORM: SERVER_ERROR}, kept)
    if isinstance(result, Registered):
        response = RedirectResponse(WELCOME_PATH, status_code=303)
        # Path=/ so that production can use the __Host- prefix (Secure, host-only, not settable by subdomains).
        response.set_cookie(
            host_cookie_name(_WELCOME_COOKIE),
            quote(result.account.name),
            max_age=300,
            path="/",
            secure=is_production(),
            httponly=True,
            samesite="lax",
        )
        return response
    response = _form_page(422 if result.retry_after is None else 429, result.errors, kept)
    if result.retry_after is not None:
        response.headers["Retry-After"] = str(result.retry_after)
    return response


async def welcome(request: Request) -> HTMLResponse:
    """The confirmation page a successful no-JS signup is redirected to."""
    name = request.cookies.get(host_cookie_name(_WELCOME_COOKIE))
    return HTMLResponse(welcome_page(unquote(name)[:100] if name else None))


routes = [Route(PATH, submit, methods=ALL_METHODS), Route(WELCOME_PATH, welcome, methods=["GET"])]
