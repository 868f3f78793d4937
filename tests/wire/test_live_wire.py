"""Live checks over Reflex's websocket, as the page sends them: the password goes up and never comes back.

Against `reflex run --env prod` with the disk state manager, so every state the tab's
events leave behind is on disk to be scanned.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from signup_app.accounts.validation import PasswordStrengthValidator, check_field, signup_password_feedback
from tests.harness.client import SIGNUP_STATE, WireClient, form, state_vars
from tests.harness.wire import ClientFactory, LogWindow, files_modified_since, state_file

pytestmark = pytest.mark.wire

CHECK_EVENT = f"{SIGNUP_STATE}.check_field"
RATE_EVENT = f"{SIGNUP_STATE}.rate_password"
# File-system timestamps come from a coarse clock that can lag time.time() by a tick.
CLOCK_SLACK_S = 0.05


async def send(client: WireClient, name: str, payload: dict[str, object], var: str) -> dict[str, object]:
    """Emit one event as the page does; the form State's vars of the answer that sets ``var``."""
    start = len(client.messages)
    await client.emit(name, payload)
    message = await client.wait_for(lambda m: var in (state_vars(m) or {}), start)
    return state_vars(message) or {}


async def test_live_checks_answer_and_never_send_or_keep_the_password(
    connect: ClientFactory, server_log: LogWindow, states_dir: Path
) -> None:
    started = time.time()
    client = await connect()
    core = uuid.uuid4().hex
    # Long enough for the length check, weak enough for the meter to complain, and searchable.
    weak = core[:6] * 3
    secret = f"Sentinel {core} lantern"

    rated = await send(
        client, RATE_EVENT, {"value": weak, "fields": {"name": "Sam", "email": ""}}, "meter_score"
    )
    expected = signup_password_feedback(weak, {"name": "Sam"})
    assert not expected.strong_enough
    assert (rated["meter_score"], rated["meter_warning"], rated["meter_strong"]) == (
        expected.score,
        PasswordStrengthValidator.common_message,
        False,
    )
    assert rated["meter_suggestions"] == list(expected.suggestions)
    rated = await send(
        client, RATE_EVENT, {"value": secret, "fields": {"name": "Sam", "email": ""}}, "meter_score"
    )
    assert (rated["meter_score"], rated["meter_warning"], rated["meter_strong"]) == (4, "", True)

    short = f"{core[:8]}"
    checked = await send(client, CHECK_EVENT, {"field": "password", "value": short}, "errors")
    assert checked["errors"] == {"password": check_field("password", short)}
    checked = await send(client, CHECK_EVENT, {"field": "email", "value": "sam@"}, "errors")
    assert checked["errors"]["email"] == check_field("email", "sam@")
    assert client.connected  # the socket guard took them for the page's own events

    searched = (core, core[:8], weak)
    assert any("meter_score" in frame for frame in client.frames)  # the scan sees real frames
    for frame in client.frames:
        assert not [text for text in searched if text in frame]
    assert not [text for text in searched if text in server_log.text()]

    await client.barrier()
    written = files_modified_since(states_dir, started - CLOCK_SLACK_S)
    assert b"meter_score" in state_file(states_dir, client.token).read_bytes()  # the scan sees state
    for path in written:
        data = path.read_bytes()
        assert not [text for text in searched if text.encode() in data], path


async def test_leaving_the_email_field_answers_alike_for_a_taken_and_a_free_address(
    connect: ClientFactory,
) -> None:
    taken = f"live-{uuid.uuid4().hex}@example.com"
    signer = await connect()
    deltas = await signer.submit_and_settle(
        form(name="Taken Address", email=taken, password=f"{uuid.uuid4().hex[:12]} orbit lantern")
    )
    assert deltas[-1].get("welcome_name") == "Taken Address", deltas

    answers = []
    for email in (taken, taken.upper(), f"live-{uuid.uuid4().hex}@example.com"):
        client = await connect()
        # A first bad value, so that the answer to the real one is a delta of its own.
        await send(client, CHECK_EVENT, {"field": "email", "value": "x@"}, "errors")
        answers.append(
            (await send(client, CHECK_EVENT, {"field": "email", "value": email}, "errors"))["errors"]
        )
    assert answers == [{}, {}, {}]
