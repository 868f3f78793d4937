"""Handlers a client may not call, against `reflex run --env prod`: refused and unknown names change
nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from reflex.state import State

from signup_app.web.handler_allowlist import REFUSED
from signup_app.web.hostile_events import FRONTEND_EXCEPTION, REFUSED_HANDLER, UNKNOWN_HANDLER
from tests.harness.abuse import LimitedServer, forwarded, new_addresses
from tests.harness.client import ROOT_STATE, SIGNUP_STATE, WireClient, form

pytestmark = pytest.mark.wire


# --- 4. Handlers a client may not call -------------------------------------------------------------


def _forged_value(var: str, marker: str) -> object:
    known: dict[str, object] = {
        "welcome_name": "Mallory",
        "errors": {"email": f"forged {marker}"},
        "pending": True,
        "rejections": 99,
        "is_hydrated": False,
        "rx_router_session": {"client_token": str(uuid.uuid4()), "client_ip": "203.0.113.9"},
        "rx_router_headers": {"x_forwarded_for": "203.0.113.9"},
    }
    return known.get(var, {"forged": marker})


def _refused_calls(marker: str) -> list[tuple[str, dict[str, Any]]]:
    """A call of every refused handler: setvar of every var of its state, the others with payloads."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for name in sorted(REFUSED):
        state_name, _, handler = name.rpartition(".")
        path = tuple(state_name.split(".")[1:])
        state = State.get_class_substate(path) if path else State
        assert state.get_full_name() == state_name
        if handler == "setvar":
            calls += [(name, {"var_name": v, "value": _forged_value(v, marker)}) for v in sorted(state.vars)]
        elif handler == "update_vars_internal":
            forged = {f"{SIGNUP_STATE}.welcome_name": "Mallory", f"{ROOT_STATE}.is_hydrated": False}
            calls.append((name, {"vars": forged}))
        elif handler == "handle_frontend_exception":
            calls.append((name, {"info": f"Error: forged\nFORGED-{marker}", "component_stack": "x"}))
        else:
            pytest.fail(f"no forged call for {name}: add one")
    return calls


def _compact(text: str) -> str:
    return "".join(text.split())


def _without_router(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deltas without the router vars, which differ between two connections of one tab."""
    return [
        {
            state: {var: value for var, value in changes.items() if "router" not in var}
            for state, changes in (message.get("delta") or {}).items()
        }
        for message in messages
    ]


async def _hydrate_of(tab: WireClient) -> list[dict[str, Any]]:
    start = len(tab.messages)
    await tab.barrier()
    return _without_router(tab.messages[start:])


async def test_refused_and_unknown_handlers_change_nothing(proxied: LimitedServer) -> None:
    """Each forged call closes its socket unanswered; the tab, reopened, is as it was."""
    marker = uuid.uuid4().hex
    address = new_addresses(1)[0]
    first = WireClient(proxied.url, headers=forwarded(address))
    await first.connect()
    try:
        # What a re-hydrate of this untouched tab looks like (its page-load key already issued).
        baseline = await _hydrate_of(first)
    finally:
        await first.close()

    calls = _refused_calls(marker)
    unknown = [
        (f"{SIGNUP_STATE}.no_such_handler", {"form_data": {"name": "x"}}),
        ("no_such_state.no_such_handler", {}),
        (f"{SIGNUP_STATE}.submit\nFORGED-{marker} INFO account created id=1", {"form_data": {}}),
        (f"\nFORGED-{marker}", {}),
    ]
    log = proxied.log_window()
    for name, payload in calls + unknown:
        # The same tab (its token) each time, as a script replaying it would.
        tab = WireClient(proxied.url, token=first.token, headers=forwarded(address))
        await tab.connect()
        try:
            start = len(tab.messages)
            await tab.emit(name, payload)
            if name == FRONTEND_EXCEPTION:
                # The page's own script-error report: dropped, the socket stays open.
                assert await _hydrate_of(tab) == baseline
                assert tab.connected
            else:
                await tab.wait_closed()
                assert tab.messages[start:] == [], name
        finally:
            await tab.close()

    again = WireClient(proxied.url, token=first.token, headers=forwarded(address))
    await again.connect()
    try:
        # Nothing answered the forged calls; the new hydrate shows the state as it was at first.
        assert await _hydrate_of(again) == baseline
        # The tab behaves as a fresh one: not pending, no welcome, no earlier rejections.
        deltas = await again.submit_and_settle(form(name="", email="not-an-email", password="short"))
    finally:
        await again.close()

    assert deltas[0] == {"pending": True}, deltas
    final = deltas[-1]
    assert set(final["errors"]) == {"name", "email", "password"}, final
    assert final["rejections"] == 1
    assert all("welcome_name" not in d for d in deltas)

    # One fixed line per closed socket; nothing the client sent, no traceback.
    text = log.text()
    compact = log.compact()  # the console wraps long lines at 80 columns
    closed = len(calls) - 1 + len(unknown)
    assert compact.count(_compact(f"hostile event: {REFUSED_HANDLER}")) == len(calls) - 1
    assert compact.count(_compact(f"hostile event: {UNKNOWN_HANDLER}")) == len(unknown)
    assert compact.count("closedawebsocketfrom") == closed
    assert "Mallory" not in text and marker not in compact and "FORGED" not in text
    assert "Traceback" not in text and "Error processing event" not in text
    sent = sum(len(name) + len(json.dumps(payload)) for name, payload in calls + unknown)
    print(
        f"\nrefused and unknown handlers: {closed} sockets closed ({sent} bytes of name and payload) "
        f"wrote {len(text.encode())} bytes of log"
    )
