"""Bad input gets exactly the errors clean_signup (or register) gives and breaks nothing: forms of strings
alike, byte for byte, through all three transports (the websocket, the no-JS form POST, the JSON POST),
anything else over the websocket. A valid signup sent again is given back only to the same submission."""

from __future__ import annotations

import secrets
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY

from signup_app.accounts.passwords import verify_password
from signup_app.accounts.registration import EMAIL_TAKEN
from signup_app.accounts.validation import FORM, PasswordStrengthValidator, SignupInput, clean_signup
from tests.harness import wire
from tests.harness.client import SUBMIT_EVENT, WireClient, form, settled
from tests.harness.data import sentinel_core, sentinel_password, strong_password, unique_email
from tests.harness.server import AppServer
from tests.harness.wire import Accounts, ClientFactory, LogWindow
from tests.wire.signups import TRANSPORTS, Reply, send, server_errors_in

pytestmark = pytest.mark.wire

ARGON2_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
COMMON = PasswordStrengthValidator.common_message
PERSONAL = PasswordStrengthValidator.personal_message
NO_CONTROL = "Name can't contain line breaks or control characters."
ALL_MISSING = {
    "name": "Enter your name.",
    "email": "Enter your email address.",
    "password": "Enter a password.",
}
# The largest strings a frame can carry: frames over 64 KB are refused (tests/wire/abuse/test_sockets.py).
LARGE = 60 * 1024


@dataclass(frozen=True)
class Identity:
    """The fresh email and sentinel password one case starts from, and the existing accounts' addresses."""

    email: str
    password: str
    taken_email: str
    # A non-ASCII address, which SQL lower() and str.lower() fold differently.
    taken_unicode_email: str


DROP = object()  # an override that leaves the field out


@dataclass(frozen=True)
class BadInput:
    id: str
    # The errors the user must see, a message None where email-validator words it (every one is also
    # checked against clean_signup); None when Reflex cannot convert the event and closes the socket.
    expected: dict[str, str | None] | None
    # Changes to a valid form wrapped as the browser wraps it (a callable gets the Identity).
    overrides: dict[str, object] = field(default_factory=dict)
    # Whether the form and JSON POSTs carry it too.
    every_transport: bool = True
    # Or a payload sent as it is, and what the handler reads from it (else its form_data).
    payload: Callable[[Identity], dict[str, object]] | None = None
    reads: Callable[[Identity], object] | None = None

    def fields(self, who: Identity) -> dict[str, object]:
        values: dict[str, object] = {"name": "Ada Lovelace", "email": who.email, "password": who.password}
        for key, value in self.overrides.items():
            values[key] = value(who) if callable(value) else value
        return {key: value for key, value in values.items() if value is not DROP}

    def event(self, who: Identity) -> dict[str, object]:
        return self.payload(who) if self.payload else {"form_data": form(**self.fields(who))}

    def read(self, who: Identity) -> object:
        if self.reads:
            return self.reads(who)
        return self.payload(who).get("form_data") if self.payload else self.fields(who)


def bad(id: str, expected: dict[str, str | None], **overrides: object) -> BadInput:
    return BadInput(id, expected, overrides)


def ws(id: str, expected: dict[str, str | None], **overrides: object) -> BadInput:
    """A form only the websocket can carry: values of other types, or too large for an HTTP body."""
    return BadInput(id, expected, overrides, every_transport=False)


def raw(
    id: str,
    expected: dict[str, str | None] | None,
    payload: Callable[[Identity], dict[str, object]],
    reads: Callable[[Identity], object] | None = None,
) -> BadInput:
    return BadInput(id, expected, every_transport=False, payload=payload, reads=reads)


BAD_INPUTS = [
    bad("blank-name", {"name": "Enter your name."}, name=""),
    bad("whitespace-name", {"name": "Enter your name."}, name=" \t "),
    bad("name-newline", {"name": NO_CONTROL}, name="Ada\nLovelace"),
    bad("name-cr", {"name": NO_CONTROL}, name="Ada\rLovelace"),
    bad("name-too-long", {"name": "Name must be at most 100 characters."}, name="n" * 101),
    bad("email-no-at", {"email": None}, email="not-an-address"),
    bad("email-two-ats", {"email": None}, email="ada@@example.com"),
    bad("email-space", {"email": None}, email="ada lovelace@example.com"),
    bad(
        "password-too-short",
        {"password": "Password must be at least 15 characters (it has 8)."},
        password="tr0ub4dr",
    ),
    bad("password-too-long", {"password": "Password must be at most 128 characters."}, password="p" * 129),
    bad("password-common", {"password": COMMON}, password="passwordpassword"),
    bad("password-spaces", {"password": COMMON}, password=" " * 15),
    bad("password-from-email", {"password": PERSONAL}, password=lambda who: who.email.split("@")[0]),
    bad("password-is-email", {"password": PERSONAL}, password=lambda who: who.email),
    bad("missing-password", {"password": "Enter a password."}, password=DROP),
    bad("missing-name", {"name": "Enter your name."}, name=DROP),
    bad("missing-email", {"email": "Enter your email address."}, email=DROP),
    bad("all-blank", ALL_MISSING, name="", email="", password=""),
    bad("all-missing", ALL_MISSING, name=DROP, email=DROP, password=DROP),
    bad("extra-field", {FORM: "Unexpected field: is_admin."}, is_admin="true"),
    bad("taken-email-other-case", {"email": EMAIL_TAKEN}, email=lambda who: who.taken_email.upper()),
    bad("taken-email-padded", {"email": EMAIL_TAKEN}, email=lambda who: f"  {who.taken_email.swapcase()} "),
    # 'Straße-Émile' upper-cases to 'STRASSE-ÉMILE': one account under the case-folded email key.
    bad("taken-email-casefolded", {"email": EMAIL_TAKEN}, email=lambda who: who.taken_unicode_email.upper()),
    # Wrong types.
    ws("name-int", {"name": None}, name=42),
    ws("name-list", {"name": None}, name=["Bad", "Input"]),
    ws("name-dict", {"name": None}, name={"first": "Bad"}),
    ws("name-bool", {"name": None}, name=True),
    ws("name-null", {"name": None}, name=None),
    ws("email-number", {"email": None}, email=12345),
    ws("password-list", {"password": None}, password=lambda who: [who.password]),
    # NaN: python's json.dumps sends the bare NaN token, which the server's json.loads accepts.
    ws("name-nan", {"name": None}, name=float("nan")),
    ws("password-nan", {"password": None}, password=float("nan")),
    # Lone surrogates travel as \ud800-style escapes, as JSON.stringify also writes them.
    ws("name-lone-surrogate", {"name": None}, name="Bad\ud800Input"),
    ws("password-lone-surrogate", {"password": None}, password=lambda who: who.password + "\udfff"),
    # NUL, CR and LF inside the name and the email.
    ws("name-nul", {"name": NO_CONTROL}, name="Bad\x00Input"),
    ws("email-nul", {"email": None}, email=lambda who: who.email.replace("@", "\x00@")),
    ws("email-cr", {"email": None}, email=lambda who: who.email.replace("@", "\r@")),
    ws("email-lf", {"email": None}, email=lambda who: who.email.replace("@", "\n@")),
    # 60 KB in each field (the frame stays under the 64 KB limit).
    ws("name-60kb", {"name": None}, name="n" * LARGE),
    ws("email-60kb", {"email": None}, email=lambda who: "e" * LARGE + who.email),
    ws("password-60kb", {"password": None}, password=lambda who: who.password + "p" * LARGE),
    # form_data shaped otherwise than the browser's wrapped entries.
    raw(
        "form-data-plain-dict",
        {"email": None},
        lambda who: {"form_data": {"name": "Bad Input", "email": "not-an-address", "password": who.password}},
    ),
    raw(
        "form-data-string",
        {FORM: None},
        lambda who: {"form_data": f"name=Bad&email={who.email}&password={who.password}"},
    ),
    raw(
        "form-data-list",
        {FORM: None},
        lambda who: {"form_data": [["email", who.email], ["password", who.password]]},
    ),
    raw("form-data-number", {FORM: None}, lambda who: {"form_data": 7}),
    raw("form-data-null", {FORM: None}, lambda who: {"form_data": None}),
    raw("no-form-data", {FORM: None}, lambda who: {}),
    raw("entries-null", {FORM: None}, lambda who: {"form_data": {FORM_DATA_ENTRIES_KEY: None}}),
    # Malformed wrapped entries: Reflex cannot unwrap them, so the socket is closed instead.
    raw(
        "entries-string", None, lambda who: {"form_data": {FORM_DATA_ENTRIES_KEY: f"password={who.password}"}}
    ),
    raw(
        "entries-triples",
        None,
        lambda who: {
            "form_data": {
                FORM_DATA_ENTRIES_KEY: [
                    ["name", "Bad", 1],
                    ["email", who.email, 2],
                    ["password", who.password, 3],
                ]
            }
        },
    ),
    # Unexpected payload keys next to form_data are ignored, never read as a field.
    raw(
        "payload-key-password",
        {"password": None},
        lambda who: {"form_data": form(name="Bad Input", email=who.email), "password": who.password},
        reads=lambda who: {"name": "Bad Input", "email": who.email},
    ),
    raw(
        "payload-key-self",
        {"email": None},
        lambda who: {
            "form_data": form(name="Bad Input", email="nope", password=who.password),
            "self": who.password,
        },
        reads=lambda who: {"name": "Bad Input", "email": "nope", "password": who.password},
    ),
]


@pytest.fixture(scope="module")
def taken(app_server: AppServer) -> tuple[str, str]:
    """Two existing accounts' addresses, made through the JSON route: a plain one and a non-ASCII one."""
    emails = (unique_email("taken"), unique_email("straße-émile"))
    for name, email in zip(("Already Here", "Émile Straße"), emails, strict=True):
        body = {"name": name, "email": email, "password": strong_password()}
        response = httpx.post(f"{app_server.url}{wire.JSON_PATH}", json=body, timeout=20)
        assert response.status_code == 201, response.text
    return emails


def expected_errors(case: BadInput, who: Identity) -> dict[str, str]:
    """What the app's own validation says about what the handler reads, checked against the case."""
    cleaned = clean_signup(case.read(who))
    if isinstance(cleaned, SignupInput):
        # Valid fields are only rejected by the database's unique index.
        assert case.expected == {"email": EMAIL_TAKEN}, f"{case.id} is not bad input: {case.read(who)}"
        cleaned = {"email": EMAIL_TAKEN}
    assert set(cleaned) == set(case.expected), cleaned
    for key, message in case.expected.items():
        if message is not None:
            assert cleaned[key] == message
    return cleaned


async def register_ok(client: WireClient, accounts: Accounts) -> None:
    """A valid signup on this client succeeds and creates exactly its row."""
    email = unique_email("follow-up")
    deltas = await client.submit_and_settle(form(name="Follow Up", email=email, password=strong_password()))
    assert deltas[-1].get("welcome_name") == "Follow Up", deltas
    assert len(accounts.with_email(email)) == 1


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.id for case in BAD_INPUTS])
async def test_bad_input_gets_the_same_errors_on_every_transport_and_breaks_nothing(
    case: BadInput,
    app_server: AppServer,
    connect: ClientFactory,
    http: httpx.AsyncClient,
    accounts: Accounts,
    server_log: LogWindow,
    taken: tuple[str, str],
) -> None:
    who = Identity(unique_email("bad"), sentinel_password(), *taken)
    bystander = await connect()
    client = await connect()
    rows_before = accounts.count()

    start = len(client.messages)
    await client.emit(SUBMIT_EVENT, case.event(who))
    if case.expected is None:
        # Reflex could not convert the arguments: the socket is closed at that event, unanswered.
        await client.wait_closed()
        assert client.messages[start:] == []
    else:
        expected = expected_errors(case, who)
        # Either the handler's answer, or a frontend event (an error toast): fail fast on the latter.
        await client.wait_for(lambda m: settled(m) or bool(m.get("events")), start)
        assert {name for name, _ in client.received} == {"event"}
        assert list(client.frontend_events()) == [], "the server answered with an error toast"
        deltas = client.signup_deltas(start)
        assert deltas[0] == {"pending": True}
        assert deltas[-1]["errors"] == expected
        assert "welcome_name" not in deltas[-1]
        if case.every_transport:
            fields = case.fields(who)
            answers = {transport: await send(transport, app_server, http, fields) for transport in TRANSPORTS}
            assert answers == dict.fromkeys(TRANSPORTS, Reply(422, None, expected)), (
                f"fields {fields!r}: the transports disagree with clean_signup"
            )
    assert server_errors_in(server_log) == []
    assert accounts.count() == rows_before
    assert accounts.with_email(who.email) == []
    assert len(accounts.with_email(who.taken_email)) == 1

    # The server, the connection (or, once closed, the reconnected tab) and the other tab still work.
    assert app_server.process.poll() is None
    sent_on = client
    if not client.connected:
        client = await connect()
    await register_ok(client, accounts)
    await register_ok(bystander, accounts)
    assert accounts.count() == rows_before + 2

    core = sentinel_core(who.password)
    for frame in sent_on.frames:
        assert core not in frame
    leaked = [line for line in server_log.text().splitlines() if core in line]
    assert core not in server_log.compact(), f"the password reached the server log: {leaked}"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_signup_is_created_once_and_given_back_only_to_the_same_submission(
    transport: str, app_server: AppServer, http: httpx.AsyncClient, accounts: Accounts
) -> None:
    """The signup key and email of an account, sent with another password or name (a shared computer, a
    leaked log), are an attempt at a taken address; the identical submission gets the first answer."""
    email, password, key = unique_email(f"resend-{transport}"), strong_password(), secrets.token_urlsafe(24)
    name = unicodedata.normalize("NFD", "  Zoë Ångström-Núñez \t")
    original = {"name": name, "email": email, "password": password, "signup_key": key}
    rows_before = accounts.count()

    first = await send(transport, app_server, http, original)
    [account] = accounts.with_email(email)
    welcome = unicodedata.normalize("NFC", name).strip()
    assert welcome == "Zoë Ångström-Núñez"
    shown = {"id": account.id, "name": welcome, "email": email} if transport == "json" else welcome
    assert first == Reply(303 if transport == "form" else 201, shown)

    attacks = {
        "another password": {**original, "password": f"{uuid.uuid4().hex[:12]} forged ladder kettle"},
        "another name": {**original, "name": "Mallory"},
        "another letter case of the address": {**original, "email": email.upper()},
    }
    for what, fields in attacks.items():
        reply = await send(transport, app_server, http, fields)
        assert reply == Reply(422, None, {"email": EMAIL_TAKEN}), f"{what}: {reply}"
    assert await send(transport, app_server, http, dict(original)) == first

    [account] = accounts.with_email(email)
    assert (account.name, account.email) == (welcome, email)
    assert account.password_hash.startswith(ARGON2_PREFIX)
    assert verify_password(account.password_hash, password)
    assert accounts.count() == rows_before + 1
