"""The app's HTTP side in-process: its routes behind the production middleware chain, no server.

The chain is read from the app itself (signup_app.signup_app's api_transformer list), so a test
here meets the same middleware, in the same order, as a request to `reflex run --env prod`.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.types import ASGIApp

# Any port but the development frontend's (3000): tests send that origin as a foreign one.
PORT = 8000


def http_app() -> ASGIApp:
    """The HTTP routes wrapped, innermost first, by the middleware the app lists after them."""
    from signup_app.signup_app import app  # the whole app: its states and routes registered

    routes, *wrappers = app.api_transformer  # type: ignore[misc]
    if not isinstance(routes, Starlette):
        raise TypeError(f"the app's first api_transformer is not its routes: {routes!r}")
    # A fresh Starlette on the same routes: Reflex mounts its own app into the one it was given.
    asgi: ASGIApp = Starlette(routes=list(routes.routes))
    for wrap in wrappers:
        asgi = wrap(asgi)
    return asgi


@dataclass(frozen=True)
class InProcessApp:
    """Where the in-process app answers (the address httpx sends as Host) and its database."""

    db_url: str
    port: int = PORT

    @property
    def url(self) -> str:
        """The base URL requests go to."""
        return f"http://127.0.0.1:{self.port}"
