"""Correlation ids: one per websocket event or HTTP request, attached to every log record."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from reflex_base.event.context import EventContext
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
HEADER = "x-request-id"


def current() -> str | None:
    """The id of the HTTP request or the Reflex event being handled, if any."""
    if (request_id := _request_id.get()) is not None:
        return request_id
    try:
        return EventContext.get().txid or None  # Reflex's id of the event (copied into to_thread)
    except LookupError:
        return None


class CorrelationId:
    """ASGI wrapper: each HTTP request gets an id (the caller's X-Request-ID if well-formed), echoed back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request with its id in context, and add the id to the response's headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == HEADER.encode()), "")
        request_id = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
        token = _request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)
