"""One table of bad inputs, sent through all three transports: the same errors, byte for byte.

The websocket event (as the browser sends it), the no-JavaScript form POST to /signup and the
JSON POST to /api/signup all call register, so each bad input must come back with
exactly the {field: message} errors that clean_signup (or register) gives, and no row.
Every value is a string: a form POST can carry nothing else, and the other two get the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from signup_app.accounts.registration import EMAIL_TAKEN
from signup_app.accounts.validation import FORM, PasswordStrengthValidator, SignupInput, clean_signup
from signup_app.web import routes
from tests.app_server import AppServer
from tests.wire.client import form
from tests.wire.conftest import Accounts, ClientFactory, get_welcome, page_error_texts, page_errors, post_form

pytestmark = pytest.mark.wire

JSON_PATH = routes.SIGNUP_API
WELCOME_PATH = routes.SIGNUP_WELCOME
TRANSPORTS = ("websocket", "form", "json")

COMMON = PasswordStrengthValidator.common_message
PERSONAL = PasswordStrengthValidator.personal_message


def unique_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex}@example.com"


def strong_password() -> str:
    return f"{uuid.uuid4().hex[:12]} orbit lantern mosaic"


# --- The three transports, each answering with the errors it shows --------------------------------


async def via_websocket(connect: ClientFactory, fields: dict[str, str]) -> dict[str, str]:
    client = await connect()
    deltas = await client.submit_and_settle(form(**fields))
    assert deltas[0] == {"pending": True}, deltas
    final = deltas[-1]
    assert "welcome_name" not in final, deltas
    assert list(client.frontend_events()) == [], "the server answered with a toast"
    return final["errors"]


async def via_form(http: httpx.AsyncClient, app_server: AppServer, fields: dict[str, str]) -> dict[str, str]:
    response = await post_form(http, app_server, fields)
    assert response.status_code == 422, page_errors(response.text)
    assert response.headers["content-type"].startswith("text/html")
    # The page always has a message element per field (empty when the field is fine).
    assert {"name", "email", "password"} <= set(page_error_texts(response.text))
    return page_errors(response.text)


async def via_json(http: httpx.AsyncClient, fields: dict[str, str]) -> dict[str, str]:
    response = await http.post(JSON_PATH, json=fields)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"errors"}, body
    return body["errors"]


# --- The table -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """The fresh details one run of a case starts from (all valid on their own)."""

    name: str
    email: str
    password: str
    # An existing account's address, for the "taken" case.
    taken_email: str
    # An existing account's non-ASCII address, which SQL lower() and str.lower() fold differently.
    taken_unicode_email: str = ""


Value = str | Callable[[Identity], str] | None  # None: the field is left out


@dataclass(frozen=True)
class BadInput:
    id: str
    overrides: dict[str, Value]
    # The errors the user must see; None for a message left to email-validator (checked
    # against clean_signup like every other).
    expected: dict[str, str | None]

    def fields(self, who: Identity) -> dict[str, str]:
        values: dict[str, Value] = {"name": who.name, "email": who.email, "password": who.password}
        values.update(self.overrides)
        return {
            key: value(who) if callable(value) else value
            for key, value in values.items()
            if value is not None
        }


def bad(id: str, expected: dict[str, str | None], **overrides: Value) -> BadInput:
    return BadInput(id, overrides, expected)


BAD_INPUTS = [
    bad("blank-name", {"name": "Enter your name."}, name=""),
    bad("whitespace-name", {"name": "Enter your name."}, name=" \t "),
    bad(
        "name-newline",
        {"name": "Name can't contain line breaks or control characters."},
        name="Ada\nLovelace",
    ),
    bad("name-cr", {"name": "Name can't contain line breaks or control characters."}, name="Ada\rLovelace"),
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
    bad("missing-password", {"password": "Enter a password."}, password=None),
    bad("missing-name", {"name": "Enter your name."}, name=None),
    bad(
        "all-blank",
        {"name": "Enter your name.", "email": "Enter your email address.", "password": "Enter a password."},
        name="",
        email="",
        password="",
    ),
    bad(
        "all-missing",
        {"name": "Enter your name.", "email": "Enter your email address.", "password": "Enter a password."},
        name=None,
        email=None,
        password=None,
    ),
    bad("extra-field", {FORM: "Unexpected field: is_admin."}, is_admin="true"),
    bad("taken-email-other-case", {"email": EMAIL_TAKEN}, email=lambda who: who.taken_email.upper()),
    bad(
        "taken-email-padded",
        {"email": EMAIL_TAKEN},
        email=lambda who: f"  {who.taken_email.swapcase()} ",
    ),
    # 'Straße-Émile' upper-cases to 'STRASSE-ÉMILE': one account under the case-folded email key.
    bad("taken-email-casefolded", {"email": EMAIL_TAKEN}, email=lambda who: who.taken_unicode_email.upper()),
]


@pytest.fixture(scope="module")
def taken_email(app_server: AppServer) -> str:
    """The address of an account that exists (made through the JSON route)."""
    email = unique_email("taken")
    body = {"name": "Already Here", "email": email, "password": strong_password()}
    response = httpx.post(f"{app_server.url}{JSON_PATH}", json=body, timeout=20)
    assert response.status_code == 201, response.text
    return email


@pytest.fixture(scope="module")
def taken_unicode_email(app_server: AppServer) -> str:
    """A non-ASCII address of an account that exists (made through the JSON route)."""
    email = f"straße-émile-{uuid.uuid4().hex}@example.com"
    body = {"name": "Émile Straße", "email": email, "password": strong_password()}
    response = httpx.post(f"{app_server.url}{JSON_PATH}", json=body, timeout=20)
    assert response.status_code == 201, response.text
    return email


def expected_errors(case: BadInput, fields: dict[str, str]) -> dict[str, str]:
    """What the app's own validation says about these fields."""
    cleaned = clean_signup(fields)
    if isinstance(cleaned, SignupInput):
        # Valid fields are only rejected by the database's unique index.
        assert case.expected == {"email": EMAIL_TAKEN}, f"{case.id} is not bad input: {fields}"
        return {"email": EMAIL_TAKEN}
    return cleaned


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.id for case in BAD_INPUTS])
async def test_bad_input_gets_the_same_errors_on_every_transport(
    case: BadInput,
    app_server: AppServer,
    connect: ClientFactory,
    http: httpx.AsyncClient,
    accounts: Accounts,
    taken_email: str,
    taken_unicode_email: str,
) -> None:
    who = Identity("Ada Lovelace", unique_email("three"), strong_password(), taken_email, taken_unicode_email)
    fields = case.fields(who)
    assert all(isinstance(value, str) for value in fields.values())
    expected = expected_errors(case, fields)
    rows_before = accounts.count()

    answers = {
        "websocket": await via_websocket(connect, fields),
        "form": await via_form(http, app_server, fields),
        "json": await via_json(http, fields),
    }

    assert answers == dict.fromkeys(TRANSPORTS, expected), (
        f"fields {fields!r}: the transports disagree with clean_signup"
    )
    assert set(expected) == set(case.expected)
    for key, message in case.expected.items():
        if message is not None:
            assert expected[key] == message
    assert accounts.count() == rows_before
    assert accounts.with_email(who.email) == []
    assert len(accounts.with_email(taken_email)) == 1


# --- The happy path, once per transport ----------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_valid_signup_creates_one_account(
    transport: str,
    app_server: AppServer,
    connect: ClientFactory,
    http: httpx.AsyncClient,
    accounts: Accounts,
) -> None:
    name = f"Grace Hopper {transport}"
    email = unique_email(f"ok-{transport}")
    fields = {"name": f"  {name} ", "email": email, "password": strong_password()}
    rows_before = accounts.count()

    if transport == "websocket":
        client = await connect()
        deltas = await client.submit_and_settle(form(**fields))
        assert deltas == [{"pending": True}, {"pending": False, "welcome_name": name, "errors": {}}]
    elif transport == "form":
        response = await post_form(http, app_server, fields)
        assert response.status_code == 303, page_errors(response.text)
        assert response.headers["location"] == WELCOME_PATH
        welcome = await get_welcome(http, response)
        assert welcome.status_code == 200
        assert f'<h1 id="welcome" tabindex="-1" class="title">Welcome, {name}</h1>' in welcome.text
    else:
        response = await http.post(JSON_PATH, json=fields)
        assert response.status_code == 201, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert set(body) == {"id", "name", "email"}
        assert isinstance(body["id"], int)
        assert (body["name"], body["email"]) == (name, email)

    [account] = accounts.with_email(email)
    assert (account.name, account.email) == (name, email)
    if transport == "json":
        assert account.id == body["id"]
    assert accounts.count() == rows_before + 1
