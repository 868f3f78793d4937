"""Which event handlers a client may call.

Reflex lets any client name any registered handler (every public State method,
and built-ins such as `setvar`) with any arguments. Only the names in CALLABLE
run; every other registered handler is listed in REFUSED, so that a new public
handler fails tests/signup_app/web/test_handler_allowlist.py until it is placed in
one list or the other on purpose.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import reflex as rx
from reflex.istate.shared import SharedStateBaseInternal
from reflex.state import (
    BaseState,
    FrontendEventExceptionState,
    OnLoadInternalState,
    State,
    StateUpdate,
    UpdateVarsInternalState,
)

from signup_app.web.transports.websocket import SignupState

if TYPE_CHECKING:
    from reflex.app import App
    from reflex_base.event import Event

logger = logging.getLogger(__name__)


def _handler(state: type[BaseState], name: str) -> str:
    """The name a client calls a state's handler by; fails at import if the handler is gone."""
    if not hasattr(state, name):
        raise AttributeError(f"{state.__name__} has no event handler {name!r}")
    return f"{state.get_full_name()}.{name}"


CALLABLE: frozenset[str] = frozenset(
    {
        # Page boot and Reflex's own hydration chain.
        _handler(State, "hydrate_and_load"),
        _handler(State, "hydrate"),
        _handler(State, "set_is_hydrated"),
        _handler(OnLoadInternalState, "on_load_internal"),
        _handler(OnLoadInternalState, "set_is_hydrated"),
        # The signup action.
        _handler(SignupState, "submit"),
        # The tab's idempotency key: random, set once, nothing else.
        _handler(SignupState, "issue_signup_key"),
    }
)

REFUSED: frozenset[str] = frozenset(
    {
        # Generic setters: they would let a client write any var (errors, welcome_name...).
        *(
            _handler(state, "setvar")
            for state in (
                State,
                SignupState,
                OnLoadInternalState,
                UpdateVarsInternalState,
                FrontendEventExceptionState,
                SharedStateBaseInternal,
            )
        ),
        # Client storage sync: the app keeps nothing in cookies or local storage.
        _handler(UpdateVarsInternalState, "update_vars_internal"),
        # Client-side exception reports: client text into server logs, unused here.
        _handler(FrontendEventExceptionState, "handle_frontend_exception"),
    }
)


class AllowlistMiddleware(rx.Middleware):
    """Drops any event whose handler is not in CALLABLE: nothing runs, nothing changes."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        if event.name in CALLABLE:
            return None
        logger.warning("refused a call to a handler that is not callable: %r", event.name[:200])
        return StateUpdate()
