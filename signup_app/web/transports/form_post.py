"""The form POST transport: a declared form's `action`, used when JavaScript is off.

Same action, same messages: a refused submit re-renders the form with each
field's error; an accepted one answers 303 to a confirmation page.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, unquote

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from signup_app.accounts import Accepted, ActionResult, Rejected, Throttled
from signup_app.accounts.validation import FORM
from signup_app.web import signing_in
from signup_app.web.forms.declaration import Form, new_hidden_value
from signup_app.web.forms.html import form_page, success_page
from signup_app.web.security_headers import host_cookie_name, is_production
from signup_app.web.transports import http

MAX_BODY_BYTES = 16 * 1024
# Longest value of a visible field that is put back into the re-rendered form.
_REFILL_CHARS = 1000

NOT_A_FORM = "The form could not be read. Reload the page and try again."
TOO_LARGE = "The form is too large. Shorten your entries and try again."


def _page(
    form: Form, status: int, errors: Mapping[str, str], values: Mapping[str, str] | None = None
) -> HTMLResponse:
    # A fresh idempotency key per rendered form (see Account.signup_key).
    keys = {f.name: new_hidden_value() for f in form.hidden_fields}
    return HTMLResponse(form_page(form, errors, values or {}, keys), status_code=status)


def _parse_form(form: Form, body: bytes) -> dict[str, str]:
    """The urlencoded fields; raises ValueError on bytes that are not UTF-8."""
    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=len(form.fields) + 5)
    return dict(pairs)


def _cookie(form: Form) -> str:
    return host_cookie_name(f"{form.name}_welcome")


async def render(
    form: Form,
    result: ActionResult[object],
    kept: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The action's result as a response: 303 to the confirmation, or the form with its errors.

    A form that signs in sets the sign-in cookie on that 303 (``headers``: the request's).
    """
    if isinstance(result, Accepted) and form.signs_in:
        try:
            return await signing_in.signed_in(
                result, headers or {}, RedirectResponse(form.success.path, status_code=303)
            )
        except signing_in.SessionUnavailableError as exc:
            result = exc.result
    if isinstance(result, Accepted):
        response: Response = RedirectResponse(form.success.path, status_code=303)
        # Path=/ so that production can use the __Host- prefix (Secure, host-only, not settable by subdomains).
        response.set_cookie(
            _cookie(form),
            quote(str(result.public.get(form.success.name_key) or "")),
            max_age=300,
            path="/",
            secure=is_production(),
            httponly=True,
            samesite="lax",
        )
        return response
    if isinstance(result, Rejected):
        return _page(form, 422, result.errors, kept)
    if isinstance(result, Throttled):
        response = _page(form, 429, result.errors, kept)
    else:
        response = _page(form, 503 if result.retry_after is not None else 500, {FORM: result.message}, kept)
    if result.retry_after is not None:
        response.headers["Retry-After"] = str(result.retry_after)
    return response


def routes(form: Form) -> list[Route]:
    """The form's POST route and its confirmation page."""

    async def submit(request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            # Someone opened the form's address: show them the form.
            return RedirectResponse(form.page, status_code=303)
        if request.method != "POST":
            return PlainTextResponse("Use POST.", status_code=405, headers={"Allow": "GET, HEAD, POST"})
        if http.is_cross_site(request):
            return _page(form, 403, {FORM: http.CROSS_SITE})
        if http.media_type(request) != "application/x-www-form-urlencoded":
            return _page(form, 415, {FORM: NOT_A_FORM})
        try:
            fields = _parse_form(form, await http.read_body(request, MAX_BODY_BYTES))
        except http.BodyTooLargeError:
            return _page(form, 413, {FORM: TOO_LARGE})
        except ValueError:
            return _page(form, 400, {FORM: NOT_A_FORM})
        kept = {
            f.name: fields[f.name]
            for f in form.visible_fields
            if not f.secret and f.name in fields and len(fields[f.name]) <= _REFILL_CHARS
        }
        result = await form.action(fields, client_address=http.request_address(request))
        return await render(form, result, kept, request.headers)

    async def welcome(request: Request) -> HTMLResponse:
        name = request.cookies.get(_cookie(form))
        return HTMLResponse(success_page(form, unquote(name)[:100] if name else None))

    submit.__doc__ = f"Run the {form.name} form's action on a form-encoded POST."
    welcome.__doc__ = f"The page a successful no-JS {form.name} submit is redirected to."
    # Where the form's page has the form's own path, a GET is the page's (Reflex's frontend).
    methods = [m for m in http.ALL_METHODS if form.path != form.page or m not in ("GET", "HEAD")]
    if form.signs_in:  # its success page is the account page
        return [Route(form.path, submit, methods=methods)]
    return [Route(form.path, submit, methods=methods), Route(form.success.path, welcome, methods=["GET"])]
