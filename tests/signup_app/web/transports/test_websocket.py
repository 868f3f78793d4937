"""The websocket transport: SignupState.submit, called directly and through Reflex's event pipeline."""

from __future__ import annotations

import asyncio
import pickle
import threading
from typing import Any

import pytest
from reflex.state import State
from sqlmodel import select

from signup_app import db
from signup_app.accounts import Account, registration
from signup_app.accounts.registration import EMAIL_TAKEN, SERVER_ERROR
from signup_app.web.pages.signup import SignupState
from tests.harness.data import unique_email
from tests.harness.protocol import pipeline_deltas

PASSWORD = "Sentinel copper kettle rain ladder"
SUBMIT = f"{SignupState.get_full_name()}.submit"


def form(**changes: object) -> dict[str, object]:
    return {"name": "Ada Lovelace", "email": unique_email("ada"), "password": PASSWORD} | changes


def stored_accounts() -> list[Account]:
    with db.session() as session:
        return list(session.exec(select(Account)))


def signup_state() -> SignupState:
    root = State(_reflex_internal_init=True)
    return root.substates[SignupState.get_name()]  # type: ignore[return-value]


async def run_submit(state: SignupState, form_data: Any) -> list[bool]:
    """Step the handler; returns the pending flag seen at each yield."""
    return [state.pending async for _ in SignupState.submit.fn(state, form_data)]


async def test_submit_shows_pending_then_welcome_and_the_tab_then_ignores_submits(database_url: str) -> None:
    state, data = signup_state(), form()
    assert await run_submit(state, data) == [True]  # the pending flag, seen at the one yield
    assert (state.pending, state.welcome_name, state.errors) == (False, "Ada Lovelace", {})
    assert await run_submit(state, form()) == []
    assert len(stored_accounts()) == 1
    # Another tab sending the address again (in another case) is told on the email field.
    other = signup_state()
    await run_submit(other, form(email=data["email"].upper()))  # type: ignore[union-attr]
    assert other.errors == {"email": EMAIL_TAKEN}


async def test_rejected_submits_set_errors_and_bump_rejections_and_no_password_is_kept(
    database_url: str,
) -> None:
    state = signup_state()
    await run_submit(state, form(email="nope", password="short"))
    assert set(state.errors) == {"email", "password"}
    assert (state.pending, state.welcome_name, state.rejections) == (False, "", 1)
    await run_submit(state, form(email="bad"))
    assert state.rejections == 2
    await run_submit(state, form())
    root = state._get_root_state()
    assert PASSWORD.encode() not in pickle.dumps(root)
    assert PASSWORD not in repr(root.dict())


def _signup_deltas(deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The handler's own deltas: the hydration snapshot and the page load's key are left out."""
    name = SignupState.get_full_name()
    return [
        delta[name] for delta in deltas[1:] if name in delta and set(delta[name]) != {"signup_key_rx_state_"}
    ]


async def test_pipeline_turns_browser_form_entries_into_an_account(database_url: str) -> None:
    data = form()
    # The browser wraps form fields as ordered entries.
    entries = {"__reflex_form_data__": [[k, v] for k, v in data.items()]}
    deltas = _signup_deltas(await pipeline_deltas(SUBMIT, {"form_data": entries}, middleware=False))

    assert deltas[0] == {"pending_rx_state_": True}
    assert deltas[-1]["welcome_name_rx_state_"] == "Ada Lovelace"
    assert len(deltas[-1]["signin_ticket_rx_state_"]) == 43  # the tab posts it for its sign-in cookie
    assert deltas[-1]["pending_rx_state_"] is False
    assert PASSWORD not in repr(deltas)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"form_data": None},
        {"form_data": "name=Ada"},
        {"form_data": {"name": 1, "email": ["x"], "password": {"a": 1}}},
        {"form_data": {"__reflex_form_data__": [["name", "Ada"]]}, "surprise": 1},
    ],
)
async def test_pipeline_answers_bad_payloads_with_errors(database_url: str, payload: dict[str, Any]) -> None:
    deltas = _signup_deltas(await pipeline_deltas(SUBMIT, payload, middleware=False))
    assert deltas[-1]["errors_rx_state_"]
    assert SERVER_ERROR not in deltas[-1]["errors_rx_state_"].values()
    assert stored_accounts() == []


async def test_hashing_runs_off_the_event_loop(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hash waits for a flag only the event loop can set: it completes only if the loop stays free."""
    loop_ran = threading.Event()
    real_hash = registration.hash_password

    def hash_needing_the_loop(password: str) -> str:
        assert loop_ran.wait(timeout=10), "the event loop was blocked while hashing"
        return real_hash(password)

    monkeypatch.setattr(registration, "hash_password", hash_needing_the_loop)
    state = signup_state()
    submit = asyncio.ensure_future(run_submit(state, form()))
    # Runs once the handler first gives the loop back: before the hash only if the hash is in a thread.
    asyncio.get_running_loop().call_soon(loop_ran.set)
    await submit
    assert state.welcome_name == "Ada Lovelace"
