"""Live checks of a declared form: the handlers called through Reflex's pipeline, and the page's bindings."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
import reflex as rx
import sqlalchemy.engine
import sqlalchemy.orm
from reflex.event import Event
from reflex.istate.manager.memory import StateManagerMemory
from reflex.state import State
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor

from signup_app import signup_app as app_module
from signup_app.accounts import validation
from signup_app.accounts.validation import PasswordStrengthValidator, check_field, check_fields
from signup_app.web import hostile_events
from signup_app.web.forms import live
from signup_app.web.forms.signup import SIGNUP
from signup_app.web.pages.signup import SignupState, signup_page

STATE = SignupState.get_full_name()
CHECK = f"{STATE}.check_field"
RATE = f"{STATE}.rate_password"
ROUTER = {"pathname": "/", "asPath": "/"}
# A password found nowhere else, so a scan for it cannot match anything but a leak.
SECRET = f"Sentinel {uuid.uuid4().hex} lantern"


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing live touches the database: every test here fails if it does."""
    for owner, name in ((sqlalchemy.engine.Engine, "connect"), (sqlalchemy.orm.Session, "execute")):
        monkeypatch.setattr(owner, name, lambda *_a, **_k: pytest.fail("a live check touched the database"))


class Tab:
    """One tab's events run through Reflex's own pipeline (the app's middleware included)."""

    def __init__(self) -> None:
        assert app_module.app is not None
        self.manager = StateManagerMemory()
        self.processor = BaseStateEventProcessor(middleware=app_module.app).configure(
            state_manager=self.manager
        )
        self.token = str(uuid.uuid4())
        self.deltas: list[dict[str, Any]] = []

    async def send(self, name: str, **payload: object) -> dict[str, Any]:
        """Run one event; the form State's vars after it, folded from its deltas."""
        async with self.processor:
            event = Event(name=name, payload=payload, router_data=dict(ROUTER))
            self.deltas += [dict(d) async for d in self.processor.enqueue_stream_delta(self.token, event)]
        return self.vars()

    def vars(self) -> dict[str, Any]:
        folded: dict[str, Any] = {}
        for delta in self.deltas:
            folded |= {key.removesuffix("_rx_state_"): value for key, value in delta.get(STATE, {}).items()}
        return folded

    async def stored(self) -> bytes:
        """The tab's states, serialised as the state store saves them (one record per state)."""
        root = await self.manager.get_state(rx.BaseStateToken(ident=self.token, cls=State))
        states, records = [root], []
        while states:
            state = states.pop()
            records.append(state._serialize())
            states += state.substates.values()
        return b"".join(records)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Ada\nLovelace"),
        ("email", "ada@"),
        ("email", "ada at example.com"),
        ("password", "too short"),
        ("password", "x" * 129),
    ],
)
async def test_leaving_a_field_shows_the_submits_message(field: str, value: str) -> None:
    _, submit_errors = check_fields(
        {"name": "Ada", "email": "ada@example.com", "password": "p" * 20, field: value}
    )
    shown = await Tab().send(CHECK, field=field, value=value)
    assert shown["errors"] == {field: submit_errors[field]}


async def test_a_corrected_field_clears_its_message_and_an_emptied_one_keeps_it() -> None:
    tab = Tab()
    await tab.send(CHECK, field="email", value="ada@")
    await tab.send(CHECK, field="name", value="Ada\x00")
    assert set(tab.vars()["errors"]) == {"email", "name"}
    # Not "Enter your email address." on a mere pass through; the earlier message stays until fixed.
    shown = await tab.send(CHECK, field="email", value="  ")
    assert shown["errors"] == {"email": check_field("email", "ada@"), "name": check_field("name", "Ada\x00")}
    shown = await tab.send(CHECK, field="email", value="ada@example.com")
    assert set(shown["errors"]) == {"name"}
    assert (await Tab().send(CHECK, field="name", value="")).get("errors", {}) == {}


@pytest.mark.parametrize(
    ("handler", "payload"),
    [
        (CHECK, {"field": "signup_key", "value": "x"}),  # not a live field
        (CHECK, {"field": "welcome_name", "value": "Mallory"}),
        (CHECK, {"field": "email", "value": ["ada@"]}),  # not text
        (CHECK, {"field": ["email"], "value": "ada@"}),
        (RATE, {"value": ["x"], "fields": {}}),
        (RATE, {"value": "x" * 5000, "fields": "name"}),
    ],
)
async def test_what_the_page_never_sends_changes_nothing(handler: str, payload: dict[str, object]) -> None:
    shown = await Tab().send(handler, **payload)
    assert shown.get("errors", {}) == {}
    assert shown.get("welcome_name", "") == ""
    assert shown.get("meter_score", -1) == -1


async def test_the_meter_rates_as_the_submit_would_and_keeps_no_password() -> None:
    tab = Tab()
    weak = await tab.send(RATE, value="password1234567", fields={"name": "", "email": ""})
    assert weak["meter_score"] <= 1
    assert weak["meter_warning"] == PasswordStrengthValidator.common_message
    assert weak["meter_suggestions"]
    assert weak["meter_strong"] is False

    personal = await tab.send(RATE, value="adalovelace1815", fields={"name": "Ada Lovelace", "email": ""})
    assert personal["meter_warning"] == PasswordStrengthValidator.personal_message
    assert personal["meter_strong"] is False

    strong = await tab.send(RATE, value=SECRET, fields={"name": "Ada Lovelace", "email": "ada@example.com"})
    assert strong["meter_score"] >= 3
    assert strong["meter_warning"] == ""
    assert strong["meter_strong"] is True

    cleared = await tab.send(RATE, value="", fields={})
    assert (cleared["meter_score"], cleared["meter_suggestions"], cleared["meter_strong"]) == (-1, [], False)

    await tab.send(CHECK, field="password", value=SECRET)
    core = SECRET.split()[1]
    assert core not in repr(tab.deltas)
    stored = await tab.stored()
    assert b"meter_score" in stored  # the scan reads the real state
    assert core.encode() not in stored
    assert SECRET.encode("utf-16-le") not in stored


async def test_typing_a_valid_password_clears_its_earlier_message_and_never_adds_one() -> None:
    tab = Tab()
    fields = {"name": "Ada Lovelace", "email": "ada@example.com"}
    typing = await tab.send(RATE, value="too short", fields=fields)
    assert "password" not in typing.get("errors", {})
    await tab.send(CHECK, field="password", value="too short")
    await tab.send(CHECK, field="email", value="ada@")
    still_short = await tab.send(RATE, value="still too short"[:12], fields=fields)
    assert "password" in still_short["errors"]
    fixed = await tab.send(RATE, value=SECRET, fields=fields)
    assert set(fixed["errors"]) == {"email"}


async def test_ratings_beyond_the_queue_bound_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    tab = Tab()
    rated = await tab.send(RATE, value="password1234567", fields={})
    monkeypatch.setattr(live, "MAX_QUEUED_RATINGS", 0)
    skipped = await tab.send(RATE, value=SECRET, fields={})
    # The meter keeps its last reading; nothing was rated.
    assert skipped["meter_score"] == rated["meter_score"] < 3
    assert skipped["meter_strong"] is False


async def test_a_failed_rating_logs_no_password(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(password: str, _user_inputs: object) -> None:
        msg = f"cannot rate {password!r}"
        raise ValueError(msg)

    monkeypatch.setattr(validation, "password_feedback", broken)
    tab = Tab()
    shown = await tab.send(RATE, value=SECRET, fields={})
    assert shown.get("meter_score", -1) == -1
    assert "strength rating failed: ValueError" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("name", "args", "passes"),
    [
        (CHECK, {"field": "email", "value": "ada@example.com"}, True),
        (CHECK, {"field": "password", "value": "x"}, True),
        (RATE, {"value": "typed so far", "fields": {"name": "Ada", "email": ""}}, True),
        (CHECK, {"field": "email"}, False),
        (CHECK, {"field": "email", "value": "a", "extra": 1}, False),
        (RATE, {"value": "x", "fields": {}, "self": 1}, False),
    ],
)
def test_the_socket_guard_passes_the_page_events_and_closes_on_other_arguments(
    name: str, args: dict[str, object], passes: bool
) -> None:
    reason = hostile_events.hostile_reason({"name": name, "payload": args, "router_data": dict(ROUTER)})
    refusals = {hostile_events.BAD_ARGUMENT_NAMES, hostile_events.BAD_ARGUMENT_VALUES}
    assert reason is None if passes else reason in refusals


def test_the_page_binds_a_blur_check_to_each_field_and_a_debounced_meter_to_the_password() -> None:
    page = str(signup_page())
    for field in SIGNUP.visible_fields:
        assert f'["field"] : "{field.name}"' in page
    assert page.count(".check_field") == len(SIGNUP.visible_fields)
    assert page.count(".rate_password") == 1
    assert f'["debounce"] : {live.METER_DEBOUNCE_MS}' in page
    # The meter reads the other fields from the page; the password is only the event's value.
    assert 'document.getElementById("name")' in page
    assert 'document.getElementById("password")' not in page
    assert '"aria-live":"polite"' in page
    assert 'id:"password-meter"' in page
    assert page.count("meter-bar") == 1


def test_a_form_without_checks_binds_nothing() -> None:
    bare = replace(SIGNUP, name="bare", check_field=None, rate_secret=None)
    state = live.live_mixin(bare)
    assert live.input_events(bare, bare.field("email"), state) == {}
    assert live.input_events(bare, bare.field("password"), state) == {}


def test_two_meters_in_one_form_are_refused() -> None:
    twice = replace(
        SIGNUP, name="twice", fields=(*SIGNUP.fields[:3], replace(SIGNUP.fields[2], name="again"))
    )
    with pytest.raises(ValueError, match="more than one meter field"):
        live.live_mixin(twice)
