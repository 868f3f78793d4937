"""The signup over Reflex's websocket, driven exactly as the browser drives it, against `reflex run --env prod`."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reflex_base.constants import Reflex
from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY
from sqlalchemy.engine import make_url

from signup_app.accounts.passwords import verify_password
from signup_app.accounts.registration import EMAIL_TAKEN, SERVER_ERROR
from signup_app.accounts.validation import FORM, PasswordStrengthValidator, clean_signup
from tests.app_server import AppServer
from tests.wire.client import ROOT_STATE, SUBMIT_EVENT, WireClient, form, settled, state_vars
from tests.wire.conftest import (
    Accounts,
    ClientFactory,
    LogWindow,
    files_modified_since,
    state_file,
)

pytestmark = pytest.mark.wire

ARGON2_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
# What a server-side failure leaves in the log (Rich prints Python's tracebacks).
SERVER_ERROR_IN_LOG = re.compile(r"Traceback|Reflex Backend Exception|Error processing event|signup failed")
# File-system timestamps come from a coarse clock that can lag time.time() by a tick.
CLOCK_SLACK_S = 0.05


def unique_email(tag: str = "wire") -> str:
    return f"{tag}-{uuid.uuid4().hex}@example.com"


def strong_password() -> str:
    return f"{uuid.uuid4().hex[:12]} orbit lantern mosaic"


def sentinel() -> str:
    """A password that appears nowhere else: its hex part is searched for."""
    return f"Sentinel-{uuid.uuid4().hex}-horse-battery"


def sentinel_core(password: str) -> str:
    return password.split("-")[1]


def lines_with(log: LogWindow, text: str) -> list[str]:
    """The log lines holding text (the search itself also catches text wrapped over lines)."""
    return [line for line in log.text().splitlines() if text in line]


def server_errors_in(log: LogWindow) -> list[str]:
    return SERVER_ERROR_IN_LOG.findall(log.text())


async def register_ok(client: WireClient, accounts: Accounts) -> None:
    """A valid signup on this client succeeds and creates exactly its row."""
    email = unique_email("follow-up")
    deltas = await client.submit_and_settle(form(name="Follow Up", email=email, password=strong_password()))
    assert deltas[-1].get("welcome_name") == "Follow Up", deltas
    assert len(accounts.with_email(email)) == 1


# --- 0. The client speaks the browser's protocol ------------------------------------------------


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


# --- 1. A valid signup ---------------------------------------------------------------------------


async def test_valid_signup(connect: ClientFactory, accounts: Accounts, server_log: LogWindow) -> None:
    client = await connect()
    name = unicodedata.normalize("NFD", "  Zoë Ångström-Núñez \t")
    email = unique_email("valid")
    password = strong_password()

    deltas = await client.submit_and_settle(form(name=name, email=email, password=password))

    welcome = unicodedata.normalize("NFC", name).strip()
    assert welcome == "Zoë Ångström-Núñez"
    assert deltas == [{"pending": True}, {"pending": False, "welcome_name": welcome, "errors": {}}]
    assert list(client.frontend_events()) == []
    [account] = accounts.with_email(email)
    assert account.name == welcome
    assert account.email == email
    assert account.password_hash.startswith(ARGON2_PREFIX)
    assert verify_password(account.password_hash, password)
    assert server_errors_in(server_log) == []


# --- 2. The password never leaves the handler --------------------------------------------------------


async def test_password_is_in_no_frame_log_or_state_file(
    app_server: AppServer,
    connect: ClientFactory,
    accounts: Accounts,
    server_log: LogWindow,
    states_dir: Path,
) -> None:
    started = time.time()
    password = sentinel()
    core = sentinel_core(password)
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

    # Every frame each tab received: the CONNECT ack, the hydrate, the submit's deltas.
    assert any("Sam Sentinel" in frame for frame in clients[0].frames)  # the scan sees real frames
    for client in clients:
        assert len(client.frames) >= 5
        assert list(client.frontend_events()) == []
        for frame in client.frames:
            assert core not in frame
        for name, data in client.received:
            assert core not in json.dumps([name, data], ensure_ascii=False)

    assert core not in server_log.text()
    assert core not in server_log.compact()
    assert server_errors_in(server_log) == []

    # The test server saves state synchronously (no debounce); a barrier event per tab
    # means each tab's state was saved.
    for client in clients:
        await client.barrier()
    written = files_modified_since(states_dir, started - CLOCK_SLACK_S)
    assert len(written) >= len(clients)
    assert b"Sam Sentinel" in state_file(states_dir, clients[0].token).read_bytes()  # the scan sees state
    for path in written:
        assert core.encode() not in path.read_bytes(), path

    database = Path(make_url(app_server.db_url).database or "")
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists():
            assert core.encode() not in path.read_bytes(), path


# --- 3. Bad input, sent straight over the websocket --------------------------------------------------


@dataclass(frozen=True)
class BadInput:
    """One bad submission, built from a fresh email and sentinel password."""

    id: str
    # The field whose error must come back; None when Reflex rejects the event before the handler.
    field: str | None
    # The submit event's payload.
    payload: Callable[[str, str], object]
    # What the handler receives as form_data, for the exact expected errors from clean_signup.
    attrs: Callable[[str, str], object]
    # The field's message, where the app defines it as a constant.
    message: str | None = None


_DROP = object()
COMMON_PASSWORD = PasswordStrengthValidator.common_message
PERSONAL_PASSWORD = PasswordStrengthValidator.personal_message
# The largest strings a frame can carry: frames over 64 KB are refused (tests/wire/test_abuse.py).
_LARGE = 60 * 1024


def wrapped(id: str, field: str, message: str | None = None, **overrides: object) -> BadInput:
    """A form wrapped as the browser wraps it, with some fields replaced (a callable gets email,
    password) or dropped."""

    def fields(email: str, password: str) -> dict[str, object]:
        values: dict[str, object] = {"name": "Bad Input", "email": email, "password": password}
        for key, value in overrides.items():
            if value is _DROP:
                del values[key]
            else:
                values[key] = value(email, password) if callable(value) else value
        return values

    return BadInput(id, field, lambda e, p: {"form_data": form(**fields(e, p))}, fields, message)


def raw(
    id: str,
    field: str | None,
    payload: Callable[[str, str], dict[str, object]],
    attrs: Callable[[str, str], object] | None = None,
) -> BadInput:
    """A payload sent as it is; the handler gets its form_data unless attrs says otherwise."""
    return BadInput(id, field, payload, attrs or (lambda e, p: payload(e, p).get("form_data")))


BAD_INPUTS = [
    # Wrong types.
    wrapped("name-int", "name", name=42),
    wrapped("name-list", "name", name=["Bad", "Input"]),
    wrapped("name-dict", "name", name={"first": "Bad"}),
    wrapped("name-bool", "name", name=True),
    wrapped("name-null", "name", name=None),
    wrapped("email-number", "email", email=12345),
    wrapped("password-list", "password", password=lambda e, p: [p]),
    # Missing fields.
    wrapped("missing-name", "name", name=_DROP),
    wrapped("missing-email", "email", email=_DROP),
    wrapped("missing-password", "password", password=_DROP),
    wrapped("empty-form", "name", name=_DROP, email=_DROP, password=_DROP),
    # Extra fields.
    wrapped("extra-field", FORM, is_admin="true"),
    # Weak passwords, whose messages are constants.
    wrapped("password-common", "password", COMMON_PASSWORD, password="password1234567890"),
    wrapped("password-personal", "password", PERSONAL_PASSWORD, password=lambda e, p: e.split("@")[0]),
    # NaN: python's json.dumps sends the bare NaN token, which the server's json.loads accepts.
    wrapped("name-nan", "name", name=float("nan")),
    wrapped("password-nan", "password", password=float("nan")),
    # Lone surrogates travel as \ud800-style escapes, as JSON.stringify also writes them.
    wrapped("name-lone-surrogate", "name", name="Bad\ud800Input"),
    wrapped("password-lone-surrogate", "password", password=lambda e, p: p + "\udfff"),
    # NUL, CR and LF inside the name and the email.
    wrapped("name-nul", "name", name="Bad\x00Input"),
    wrapped("name-cr", "name", name="Bad\rInput"),
    wrapped("name-lf", "name", name="Bad\nInput"),
    wrapped("email-nul", "email", email=lambda e, p: e.replace("@", "\x00@")),
    wrapped("email-cr", "email", email=lambda e, p: e.replace("@", "\r@")),
    wrapped("email-lf", "email", email=lambda e, p: e.replace("@", "\n@")),
    # 60 KB in each field (the frame stays under the 64 KB limit).
    wrapped("name-60kb", "name", name="n" * _LARGE),
    wrapped("email-60kb", "email", email=lambda e, p: "e" * _LARGE + e),
    wrapped("password-60kb", "password", password=lambda e, p: p + "p" * _LARGE),
    # form_data shaped otherwise than the browser's wrapped entries.
    raw(
        "form-data-plain-dict",
        "email",
        lambda e, p: {"form_data": {"name": "Bad Input", "email": "not-an-address", "password": p}},
    ),
    raw("form-data-string", FORM, lambda e, p: {"form_data": f"name=Bad&email={e}&password={p}"}),
    raw("form-data-list", FORM, lambda e, p: {"form_data": [["email", e], ["password", p]]}),
    raw("form-data-number", FORM, lambda e, p: {"form_data": 7}),
    raw("form-data-null", FORM, lambda e, p: {"form_data": None}),
    raw("no-form-data", FORM, lambda e, p: {}),
    raw("entries-null", FORM, lambda e, p: {"form_data": {FORM_DATA_ENTRIES_KEY: None}}),
    # Malformed wrapped entries: Reflex cannot unwrap them, so the socket is closed instead.
    raw("entries-string", None, lambda e, p: {"form_data": {FORM_DATA_ENTRIES_KEY: f"password={p}"}}),
    raw(
        "entries-triples",
        None,
        lambda e, p: {
            "form_data": {FORM_DATA_ENTRIES_KEY: [["name", "Bad", 1], ["email", e, 2], ["password", p, 3]]}
        },
    ),
    # Unexpected payload keys next to form_data are ignored, never read as a field.
    raw(
        "payload-key-password",
        "password",
        lambda e, p: {"form_data": form(name="Bad Input", email=e), "password": p},
        attrs=lambda e, p: {"name": "Bad Input", "email": e},
    ),
    raw(
        "payload-key-self",
        "email",
        lambda e, p: {"form_data": form(name="Bad Input", email="nope", password=p), "self": p},
        attrs=lambda e, p: {"name": "Bad Input", "email": "nope", "password": p},
    ),
]


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[bad.id for bad in BAD_INPUTS])
async def test_bad_input_is_rejected_without_error(
    bad: BadInput,
    app_server: AppServer,
    connect: ClientFactory,
    accounts: Accounts,
    server_log: LogWindow,
) -> None:
    bystander = await connect()
    client = await connect()
    email, password = unique_email("bad"), sentinel()
    rows_before = accounts.count()

    start = len(client.messages)
    await client.emit(SUBMIT_EVENT, bad.payload(email, password))

    if bad.field is None:
        # Reflex could not convert the arguments: the socket is closed at that event, unanswered.
        await client.wait_closed()
        assert client.messages[start:] == []
    else:
        # Either the handler's answer, or a frontend event (an error toast): fail fast on the latter.
        await client.wait_for(lambda m: settled(m) or bool(m.get("events")), start)
        assert {name for name, _ in client.received} == {"event"}
        assert list(client.frontend_events()) == [], "the server answered with an error toast"
        deltas = client.signup_deltas(start)
        assert deltas[0] == {"pending": True}
        errors = deltas[-1]["errors"]
        assert errors.get(bad.field), errors
        if bad.message is not None:
            assert errors[bad.field] == bad.message
        assert SERVER_ERROR not in errors.values()
        expected = clean_signup(bad.attrs(email, password))
        assert isinstance(expected, dict)
        assert errors == expected
        assert "welcome_name" not in deltas[-1]
    assert server_errors_in(server_log) == []
    assert accounts.count() == rows_before

    # The server, the connection (or, once closed, the reconnected tab) and the other tab still work.
    assert app_server.process.poll() is None
    sent_on = client
    if not client.connected:
        client = await connect()
    await register_ok(client, accounts)
    await register_ok(bystander, accounts)
    assert accounts.count() == rows_before + 2

    core = sentinel_core(password)
    for frame in sent_on.frames:
        assert core not in frame
    leaked = core in server_log.compact()
    assert not leaked, f"the password reached the server log: {lines_with(server_log, core)}"


# --- 4. Concurrent signups of one address ----------------------------------------------------------


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

    starts = await asyncio.gather(*(c.submit(f) for c, f in zip(clients, forms, strict=True)))
    await asyncio.gather(*(c.wait_for(settled, start) for c, start in zip(clients, starts, strict=True)))

    finals = [c.signup_deltas(start)[-1] for c, start in zip(clients, starts, strict=True)]
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
