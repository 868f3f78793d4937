"""What the compiled frontend knows of the app and how it shapes events (Reflex 0.10.1): client, bench."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

from reflex_base.constants.state import FIELD_MARKER

NAMESPACE = "/_event"
ROUTER_DATA = {"pathname": "/", "asPath": "/"}

Delta = dict[str, dict[str, Any]]


def event(name: str, payload: object) -> dict[str, Any]:
    """One event as the browser emits it on the `/_event` namespace."""
    return {"name": name, "payload": payload, "router_data": dict(ROUTER_DATA)}


def connect_auth(protocol: dict[str, Any], *, first: bool = True) -> dict[str, Any]:
    """The browser's CONNECT data: its boot event (hydrate) and schema.

    The first connect's hydrate carries the initial state's hashes; a reconnect's has an empty
    payload, which the page leaves out.
    """
    boot = event(protocol["hydrate_event"], {"hashes": protocol["hashes"]})
    if not first:
        del boot["payload"]
    return {"event": boot, "state_schema": protocol["state_schema"]}


def delta_vars(delta: Delta, state_name: str) -> dict[str, Any] | None:
    """One state's vars in a delta, with Reflex's var suffix removed (None: the state is not in it)."""
    if (changes := delta.get(state_name)) is None:
        return None
    return {name.removesuffix(FIELD_MARKER): value for name, value in changes.items()}


async def pipeline_deltas(name: str, payload: dict[str, Any], *, middleware: bool = True) -> list[Delta]:
    """Every delta of one event run in-process through Reflex's pipeline (and the middleware) on a new tab."""
    from reflex.event import Event
    from reflex.istate.manager.memory import StateManagerMemory
    from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor

    from signup_app.signup_app import app  # the pipeline resolves page load events through the app

    processor = BaseStateEventProcessor(middleware=app if middleware else None)
    processor = processor.configure(state_manager=StateManagerMemory())
    async with processor:
        run = Event(name=name, payload=payload, router_data=dict(ROUTER_DATA))
        return [dict(d) async for d in processor.enqueue_stream_delta(str(uuid.uuid4()), run)]


@functools.cache
def app_protocol() -> dict[str, Any]:
    """State and event names, initial-state hashes and state schema of the compiled frontend.

    It runs an event loop: from inside one, call it with asyncio.to_thread.
    """
    from reflex.state import OnLoadInternalState, State, _resolve_delta, state_snapshot_hashes
    from reflex_base.constants import Reflex
    from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY

    import signup_app.signup_app  # noqa: F401  (registers every state the compiled frontend knows)
    from signup_app.web.account import AccountState
    from signup_app.web.pages.signup import SignupState

    async def snapshot() -> Delta:
        return await _resolve_delta(State(_reflex_internal_init=True).dict(initial=True))

    root = State.get_full_name()
    return {
        "version": Reflex.VERSION,
        "root_state": root,
        "signup_state": SignupState.get_full_name(),
        "account_state": AccountState.get_full_name(),
        "hydrate_event": f"{root}.hydrate_and_load",
        "cheap_event": f"{OnLoadInternalState.get_full_name()}.set_is_hydrated",
        "submit_event": f"{SignupState.get_full_name()}.submit",
        "hashes": state_snapshot_hashes(asyncio.run(snapshot())),
        "state_schema": State._to_frontend_schema(),
        "form_entries_key": FORM_DATA_ENTRIES_KEY,
    }
