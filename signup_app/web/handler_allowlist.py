"""Which event handlers a client may call.

Reflex lets any client name any registered handler (every public State method,
and built-ins such as `setvar`) with any arguments. Only the names in
callable_handlers() run: the page boot and each declared form's own handlers,
taken from the form States. Every other registered handler is in
refused_handlers(), so that a new public handler fails
tests/signup_app/web/test_handler_allowlist.py until it is placed in one list or
the other on purpose.
"""

from __future__ import annotations

import functools
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

from signup_app.web.account import AccountState
from signup_app.web.forms import live
from signup_app.web.transports.websocket import FormState, form_states

if TYPE_CHECKING:
    from reflex.app import App
    from reflex_base.event import Event

logger = logging.getLogger(__name__)


def _handler(state: type[BaseState], name: str) -> str:
    """The name a client calls a state's handler by; fails at import if the handler is gone."""
    if not hasattr(state, name):
        raise AttributeError(f"{state.__name__} has no event handler {name!r}")
    return f"{state.get_full_name()}.{name}"


# Reflex's own states and the handlers of theirs a page needs.
_BOOT = (
    # Page boot and Reflex's own hydration chain.
    (State, "hydrate_and_load"),
    (State, "hydrate"),
    (State, "set_is_hydrated"),
    (OnLoadInternalState, "on_load_internal"),
    (OnLoadInternalState, "set_is_hydrated"),
    # The account page: each re-checks the connection's sign-in cookie (signup_app.web.account).
    (AccountState, "load"),
    (AccountState, "sign_out_session"),
    (AccountState, "sign_out_others"),
)
_BUILT_IN_STATES = (
    State,
    OnLoadInternalState,
    UpdateVarsInternalState,
    FrontendEventExceptionState,
    SharedStateBaseInternal,
)


def _form_handlers(state: type[FormState]) -> set[str]:
    # The form's action, the issuing of each hidden key (random, set once, nothing else),
    # and the checks while the form is filled in (they only read their arguments).
    return (
        {_handler(state, "submit")}
        | {_handler(state, name) for name in state.event_handlers if name.startswith("issue_")}
        | {_handler(state, name) for name in live.HANDLERS}
    )


def callable_handlers() -> frozenset[str]:
    """The handlers a client may call: the page boot, and each declared form's handlers."""
    return _callable(form_states())


def refused_handlers() -> frozenset[str]:
    """The registered handlers no client may call."""
    return _refused(form_states())


# Cached per set of form States: a form declared later (as in the tests) gets its own entry.
@functools.cache
def _callable(forms: tuple[type[FormState], ...]) -> frozenset[str]:
    handlers = set().union(*(_form_handlers(state) for state in forms))
    return frozenset({_handler(state, name) for state, name in _BOOT} | handlers)


@functools.cache
def _refused(forms: tuple[type[FormState], ...]) -> frozenset[str]:
    return frozenset(
        {
            # Generic setters: they would let a client write any var (errors, welcome_name...).
            *(_handler(state, "setvar") for state in (*_BUILT_IN_STATES, AccountState, *forms)),
            # Client storage sync: the app keeps nothing in cookies or local storage.
            _handler(UpdateVarsInternalState, "update_vars_internal"),
            # Client-side exception reports: client text into server logs, unused here.
            _handler(FrontendEventExceptionState, "handle_frontend_exception"),
        }
    )


class AllowlistMiddleware(rx.Middleware):
    """Drops any event whose handler is not callable: nothing runs, nothing changes."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:  # noqa: ARG002  (Reflex's signature)
        """Let a callable handler's event through; answer any other with an empty update."""
        if event.name in callable_handlers():
            return None
        logger.warning("refused a call to a handler that is not callable: %r", event.name[:200])
        return StateUpdate()
