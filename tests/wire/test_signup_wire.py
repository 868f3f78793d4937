"""The signup page over Reflex's websocket as the browser drives it, against `reflex run --env prod` and its
disk state: hydration, the password kept out of frames, log and files, live checks, racing signups."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from reflex_base.constants import Reflex
from sqlalchemy.engine import make_url

from signup_app.accounts.registration import EMAIL_TAKEN
from signup_app.accounts.validation import PasswordStrengthValidator, check_field, signup_password_feedback
from tests.harness.client import ROOT_STATE, SIGNUP_STATE, WireClient, form, state_vars
from tests.harness.data import sentinel_core, sentinel_password, strong_password, unique_email
from tests.harness.server import AppServer
from tests.harness.wire import Accounts, ClientFactory, LogWindow, files_modified_since, state_file
from tests.wire.signups import server_errors_in, submit_at_once

pytestmark = pytest.mark.wire

CHECK_EVENT = f"{SIGNUP_STATE}.check_field"
RATE_EVENT = f"{SIGNUP_STATE}.rate_password"
# File-system timestamps come from a coarse clock that can lag time.time() by a tick.
CLOCK_SLACK_S = 0.05


async def test_hydrates_like_the_browser(connect: ClientFactory, server_log: LogWindow) -> None:
    """The boot event in CONNECT hydrates the tab: a snapshot, the page load (its key), is_hydrated."""
    client = await connect()
    await client.wait_for(lambda m: bool((state_vars(m) or {}).get("signup_key")))

    assert [name for name, _ in client.received] == ["event"] * 4
    snapshot, loading, keyed, hydrated = client.messages
    assert loading == {"delta": {ROOT_STATE: {"is_hydrated_rx_state_": False}}}  # the page load begins
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", state_vars(keyed)["signup_key"])
    root = state_vars(snapshot, ROOT_STATE)
    assert root is not None
    assert root["is_hydrated"] is False
    assert root["rx_router_session"]["client_token"] == client.token
    assert root["rx_router_headers"]["raw_headers"]["sec-websocket-protocol"] == Reflex.VERSION
    # The hashes matched the compiled initial state: SignupState is at its defaults, so not sent.
    assert state_vars(snapshot) is None
    assert hydrated == {"delta": {ROOT_STATE: {"is_hydrated_rx_state_": True}}}
    # No "state_mismatch" (the schema matched) and no version or token warnings.
    assert "does not match" not in server_log.text()
    assert "No token provided" not in server_log.text()


async def send(client: WireClient, name: str, payload: dict[str, object], var: str) -> dict[str, object]:
    """Emit one event as the page does; the form State's vars of the answer that sets ``var``."""
    start = len(client.messages)
    await client.emit(name, payload)
    message = await client.wait_for(lambda m: var in (state_vars(m) or {}), start)
    return state_vars(message) or {}


async def test_password_is_in_no_frame_log_or_state_file(
    app_server: AppServer,
    connect: ClientFactory,
    accounts: Accounts,
    server_log: LogWindow,
    states_dir: Path,
) -> None:
    """Submitted (created, taken or refused), or only rated and checked live as it is typed: a password
    never comes back, nor reaches the log, a state file or the database."""
    started = time.time()
    password = sentinel_password()
    core = sentinel_core(password)
    # Typed on the way: long enough for the length check, weak enough for the meter to complain; too short.
    weak, short = core[:6] * 3, core[:8]
    email = unique_email("sentinel")
    clients: list[WireClient] = []

    async def attempt(fields: dict[str, object]) -> list[dict[str, Any]]:
        client = await connect()
        clients.append(client)
        deltas = await client.submit_and_settle(form(**fields))
        return deltas

    ok = await attempt({"name": "Sam Sentinel", "email": email, "password": password})
    taken = await attempt({"name": "Sam Again", "email": email.upper(), "password": password})
    bad_name = await attempt({"name": "Sam\x00", "email": unique_email(), "password": password})
    too_long = await attempt({"name": "Sam Long", "email": unique_email(), "password": password * 3})

    assert ok[-1]["welcome_name"] == "Sam Sentinel"
    assert taken[-1]["errors"] == {"email": EMAIL_TAKEN}
    assert set(bad_name[-1]["errors"]) == {"name"}
    assert set(too_long[-1]["errors"]) == {"password"}
    assert len(accounts.with_email(email)) == 1

    live = await connect()
    clients.append(live)
    rated = await send(
        live, RATE_EVENT, {"value": weak, "fields": {"name": "Sam", "email": ""}}, "meter_score"
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
        live, RATE_EVENT, {"value": password, "fields": {"name": "Sam", "email": ""}}, "meter_score"
    )
    assert (rated["meter_score"], rated["meter_warning"], rated["meter_strong"]) == (4, "", True)
    checked = await send(live, CHECK_EVENT, {"field": "password", "value": short}, "errors")
    assert checked["errors"] == {"password": check_field("password", short)}
    checked = await send(live, CHECK_EVENT, {"field": "email", "value": "sam@"}, "errors")
    assert checked["errors"]["email"] == check_field("email", "sam@")
    assert live.connected  # the socket guard took them for the page's own events

    # Every frame each tab received: the CONNECT ack, the hydrate, the events' deltas.
    searched = (core, short, weak)
    assert any("Sam Sentinel" in frame for frame in clients[0].frames)  # the scan sees real frames
    assert any("meter_score" in frame for frame in live.frames)
    for client in clients:
        assert len(client.frames) >= 5
        assert list(client.frontend_events()) == []
        for frame in client.frames:
            assert not [text for text in searched if text in frame]
        for name, data in client.received:
            assert core not in json.dumps([name, data], ensure_ascii=False)

    assert not [text for text in searched if text in server_log.text() or text in server_log.compact()]
    assert server_errors_in(server_log) == []

    # The test server saves state synchronously (no debounce); a barrier event per tab
    # means each tab's state was saved.
    for client in clients:
        await client.barrier()
    written = files_modified_since(states_dir, started - CLOCK_SLACK_S)
    assert len(written) >= len(clients)
    assert b"Sam Sentinel" in state_file(states_dir, clients[0].token).read_bytes()  # the scan sees state
    assert b"meter_score" in state_file(states_dir, live.token).read_bytes()
    database = Path(make_url(app_server.db_url).database or "")
    for path in [*written, database, database.with_name(database.name + "-wal")]:
        if path.exists():
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


def case_variants(email: str, count: int, seed: int) -> list[str]:
    """`count` distinct spellings of email in mixed letter case."""
    rng = random.Random(seed)
    variants = {email, email.upper()}
    while len(variants) < count:
        variants.add("".join(ch.upper() if rng.random() < 0.5 else ch.lower() for ch in email))
    return sorted(variants)


async def test_concurrent_signups_of_one_address(
    connect: ClientFactory, accounts: Accounts, server_log: LogWindow
) -> None:
    clients = await asyncio.gather(*(connect() for _ in range(20)))
    email = unique_email("race")
    spellings = case_variants(email, len(clients), seed=uuid.uuid4().int)
    forms = [
        form(name=f"Racer {i}", email=spelling, password=f"{strong_password()} {i}")
        for i, spelling in enumerate(spellings)
    ]

    finals = await submit_at_once(clients, forms)
    winners = [final for final in finals if final.get("welcome_name")]
    losers = [final for final in finals if not final.get("welcome_name")]
    assert len(winners) == 1, finals
    assert winners[0]["errors"] == {}
    assert [loser["errors"] for loser in losers] == [{"email": EMAIL_TAKEN}] * 19
    for client in clients:
        assert list(client.frontend_events()) == []
    [account] = accounts.with_email(email)
    assert account.name == winners[0]["welcome_name"]
    assert server_errors_in(server_log) == []
