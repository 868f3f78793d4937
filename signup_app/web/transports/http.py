"""What the HTTP transports share: the cross-site check and a size-capped body read."""

from __future__ import annotations

from starlette.requests import Request

from signup_app.web import origins
from signup_app.web.client_address import scope_address

# A route taking every method answers the wrong ones itself (405, or a redirect)
# instead of letting them fall through to the frontend's 404. (A CORS preflight
# OPTIONS is answered earlier, by Reflex's CORS middleware.)
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")

CROSS_SITE = "Cross-site requests are not accepted. Submit the form from this site."


class BodyTooLargeError(Exception):
    """The request body is over the route's limit."""


def is_cross_site(request: Request) -> bool:
    """Whether the request comes from a page of another origin (see signup_app.web.origins).

    Scripts send neither Origin nor Sec-Fetch-Site and are accepted.
    """
    return origins.scope_is_cross_site(request.scope)


def media_type(request: Request) -> str:
    """The Content-Type without parameters, lower-cased."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing to buffer more than limit bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError
    return bytes(body)


def request_address(request: Request) -> str:
    """The client address of an HTTP request (see signup_app.web.client_address)."""
    return scope_address(request.scope)
