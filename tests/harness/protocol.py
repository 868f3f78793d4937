"""What the compiled frontend knows about the app, and how it frames events (Reflex 0.10.1).

Shared by tests/harness/client.py (python-socketio, every frame recorded) and bench/browser.py
(one bare websocket per tab, thousands at once).
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

from reflex_base.constants.state import FIELD_MARKER

NAMESPACE = "/_event"
ROUTER_DATA = {"pathname": "/", "asPath": "/"}

Delta = dict[str, dict[str, Any]]


def delta_vars(delta: Delta, state_name: str) -> dict[str, Any] | None:
    """One state's vars in a delta, with Reflex's var suffix removed (None: the state is not in it)."""
    changes = delta.get(state_name)
    if changes is None:
        return None
    return {name.removesuffix(FIELD_MARKER): value for name, value in changes.items()}


async def pipeline_deltas(name: str, payload: dict[str, Any], *, middleware: bool = True) -> list[Delta]:
    """Every delta of one event run in-process through Reflex's pipeline, on a new tab's state in memory.

    With middleware, the app's own runs around it, as in a server.
    """
    from reflex.event import Event
    from reflex.istate.manager.memory import StateManagerMemory
    from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor

    from signup_app.signup_app import app  # the pipeline resolves page load events through the app

    processor = BaseStateEventProcessor(middleware=app if middleware else None)
    processor = processor.configure(state_manager=StateManagerMemory())
    async with processor:
        event = Event(name=name, payload=payload, router_data=dict(ROUTER_DATA))
        return [dict(d) async for d in processor.enqueue_stream_delta(str(uuid.uuid4()), event)]


@functools.cache
def app_protocol() -> dict[str, Any]:
    """State names, event names, initial-state hashes and the state schema of the compiled frontend.

    Not from inside a running event loop (it runs one): use asyncio.to_thread there.
    """
    from reflex.state import OnLoadInternalState, State, _resolve_delta, state_snapshot_hashes
    from reflex_base.constants import Reflex
    from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY

    import signup_app.signup_app  # noqa: F401  (registers every state the compiled frontend knows)
    from signup_app.web.pages.signup import SignupState

    async def snapshot() -> Delta:
        return await _resolve_delta(State(_reflex_internal_init=True).dict(initial=True))

    root = State.get_full_name()
    return {
        "version": Reflex.VERSION,
        "root_state": root,
        "signup_state": SignupState.get_full_name(),
        "hydrate_event": f"{root}.hydrate_and_load",
        "cheap_event": f"{OnLoadInternalState.get_full_name()}.set_is_hydrated",
        "submit_event": f"{SignupState.get_full_name()}.submit",
        "hashes": state_snapshot_hashes(asyncio.run(snapshot())),
        "state_schema": State._to_frontend_schema(),
        "form_entries_key": FORM_DATA_ENTRIES_KEY,
    }
