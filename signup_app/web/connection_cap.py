"""An ASGI wrapper that caps simultaneous websocket connections per client address."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from signup_app import settings
from signup_app.accounts.rate_limits import limit_key
from signup_app.web.client_address import scope_address

logger = logging.getLogger(__name__)

TOO_MANY_CONNECTIONS = "Too many open connections from your address. Close a tab and try again."


class ConnectionCap:
    """Refuses a websocket handshake when its address already holds the maximum (per worker).

    Args:
        app: The wrapped ASGI app.
        limit: The maximum, asked per handshake; by default config's SIGNUP_MAX_CONNECTIONS_PER_ADDRESS.
        config: Where the maximum, the trusted proxies and the IPv6 prefix come from; None: the loaded settings.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: Callable[[], int] | None = None,
        config: settings.Settings | None = None,
    ) -> None:
        self.app = app
        self.config = config or settings.load()
        maximum = self.config.max_connections_per_address
        self.limit = limit or (lambda: maximum)
        self.open: collections.Counter[str] = collections.Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count a websocket against its address, or refuse it when the address is at its cap."""
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        address = limit_key(scope_address(scope, self.config.trusted_proxies), self.config.ipv6_prefix)
        if self.open[address] >= self.limit():
            logger.warning("refused a websocket: %s already holds %d", address, self.open[address])
            await self._refuse(scope, receive, send)
            return
        self.open[address] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open[address] -= 1
            if not self.open[address]:
                del self.open[address]

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            # Servers that support it let the refusal carry a status and a reason.
            body = TOO_MANY_CONNECTIONS.encode()
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await send({"type": "websocket.close", "code": 1008, "reason": TOO_MANY_CONNECTIONS})
