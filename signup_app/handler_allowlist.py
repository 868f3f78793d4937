"""Which event handlers a client may call.

Reflex lets any client name any registered handler (every public State method,
and built-ins such as `setvar`) with any arguments. Only the names in CALLABLE
run; every other registered handler is listed in REFUSED, so that a new public
handler fails tests/signup_app/test_handler_allowlist.py until it is placed in
one list or the other on purpose.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import reflex as rx
from reflex.state import StateUpdate

if TYPE_CHECKING:
    from reflex.app import App
    from reflex.state import BaseState
    from reflex_base.event import Event

logger = logging.getLogger(__name__)

_ROOT = "reflex___state____state"
_SIGNUP = f"{_ROOT}.signup_app___transports___websocket____signup_state"
_ON_LOAD = f"{_ROOT}.reflex___state____on_load_internal_state"

CALLABLE: frozenset[str] = frozenset(
    {
        # Page boot and Reflex's own hydration chain.
        f"{_ROOT}.hydrate_and_load",
        f"{_ROOT}.hydrate",
        f"{_ROOT}.set_is_hydrated",
        f"{_ON_LOAD}.on_load_internal",
        f"{_ON_LOAD}.set_is_hydrated",
        # The signup action.
        f"{_SIGNUP}.submit",
        # The tab's idempotency key: random, set once, nothing else.
        f"{_SIGNUP}.issue_signup_key",
    }
)

REFUSED: frozenset[str] = frozenset(
    {
        # Generic setters: they would let a client write any var (errors, welcome_name...).
        f"{_ROOT}.setvar",
        f"{_SIGNUP}.setvar",
        f"{_ON_LOAD}.setvar",
        f"{_ROOT}.reflex___state____update_vars_internal_state.setvar",
        f"{_ROOT}.reflex___state____frontend_event_exception_state.setvar",
        f"{_ROOT}.reflex___istate___shared____shared_state_base_internal.setvar",
        # Client storage sync: the app keeps nothing in cookies or local storage.
        f"{_ROOT}.reflex___state____update_vars_internal_state.update_vars_internal",
        # Client-side exception reports: client text into server logs, unused here.
        f"{_ROOT}.reflex___state____frontend_event_exception_state.handle_frontend_exception",
    }
)


class AllowlistMiddleware(rx.Middleware):
    """Drops any event whose handler is not in CALLABLE: nothing runs, nothing changes."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        if event.name in CALLABLE:
            return None
        logger.warning("refused a call to a handler that is not callable: %r", event.name[:200])
        return StateUpdate()
