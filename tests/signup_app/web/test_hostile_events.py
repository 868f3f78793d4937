"""Which events the socket guard takes for a script's rather than the page's."""

from __future__ import annotations

import pytest
from reflex_base.utils.form import FORM_DATA_ENTRIES_KEY as ENTRIES

from signup_app import signup_app as app_module
from signup_app.web import hostile_events as he
from signup_app.web.handler_allowlist import callable_handlers
from signup_app.web.pages.signup import SignupState
from tests.harness.client import form

ROOT = "reflex___state____state"
SIGNUP = SignupState.get_full_name()
ON_LOAD = f"{ROOT}.reflex___state____on_load_internal_state"
ISSUE_KEY = f"{SIGNUP}.issue_signup_key"
SUBMIT = f"{SIGNUP}.submit"
ROUTER = {"pathname": "/", "asPath": "/", "query": {}}


def event(name: str, payload: object = None, **more: object) -> dict[str, object]:
    return {"name": name, "payload": {} if payload is None else payload, "router_data": dict(ROUTER), **more}


PAGE_EVENTS = [
    event(f"{ROOT}.hydrate_and_load", {"hashes": ["a", "b"]}),
    event(f"{ROOT}.hydrate_and_load", {}),
    event(f"{ON_LOAD}.on_load_internal"),
    event(f"{ON_LOAD}.set_is_hydrated", {"value": True}),
    event(f"{ROOT}.set_is_hydrated", {"value": True}),
    event(ISSUE_KEY),
    event(SUBMIT, {"form_data": form(name="Ann", email="a@example.com", password="secret")}),
    # submit takes (and ignores) any other keys; what it does with odd form data is its own check.
    event(SUBMIT, {"form_data": "name=x", "extra": 1, "self": 2}),
    # Events without router data are Reflex's to fill in.
    {"name": ISSUE_KEY, "payload": {}},
    # An empty payload is left out: a reconnect's hydrate, a handler without arguments.
    {"name": f"{ROOT}.hydrate_and_load", "router_data": {"pathname": "/account", "asPath": "/account"}},
    {"name": ISSUE_KEY},
]


@pytest.mark.parametrize("data", PAGE_EVENTS, ids=lambda d: str(d["name"]).rpartition(".")[2])
def test_what_the_page_sends_passes(data: dict[str, object]) -> None:
    assert he.hostile_reason(data) is None


def test_every_callable_handler_resolves() -> None:
    assert app_module.app is not None
    assert set(he._handlers()) == callable_handlers()


HOSTILE = [
    ("string", '{"name": "x"}', he.NOT_AN_OBJECT),
    ("not-json", '{"name": ', he.NOT_AN_OBJECT),
    ("list", [SUBMIT, {}], he.NOT_AN_OBJECT),
    ("null", None, he.NOT_AN_OBJECT),
    ("no-name", {"payload": {}}, he.NO_NAME),
    ("name-not-string", {"name": ["x"], "payload": {}}, he.NO_NAME),
    ("payload-null", {"name": ISSUE_KEY, "payload": None}, he.NO_PAYLOAD),
    ("no-payload-for-arguments", {"name": f"{ROOT}.set_is_hydrated"}, he.BAD_ARGUMENT_NAMES),
    ("payload-list", event(SUBMIT, ["secret"]), he.NO_PAYLOAD),
    ("payload-string", event(SUBMIT, "secret"), he.NO_PAYLOAD),
    ("router-data-list", event(ISSUE_KEY, router_data=["/"]), he.BAD_ROUTER_DATA),
    ("router-path-list", event(ISSUE_KEY, router_data={"pathname": ["/"]}), he.BAD_ROUTER_DATA),
    ("router-query-list", event(ISSUE_KEY, router_data={"query": ["a"]}), he.BAD_ROUTER_DATA),
    ("unknown-handler", event(f"{SIGNUP}.no_such_handler"), he.UNKNOWN_HANDLER),
    ("unknown-state", event("no_such_state.submit"), he.UNKNOWN_HANDLER),
    ("backslashes", event('"password": "' + "\\" * 40), he.UNKNOWN_HANDLER),
    ("setvar", event(f"{SIGNUP}.setvar", {"var_name": "welcome_name", "value": "x"}), he.REFUSED_HANDLER),
    ("root-setvar", event(f"{ROOT}.setvar", {"var_name": "is_hydrated", "value": True}), he.REFUSED_HANDLER),
    ("unexpected-arg", event(ISSUE_KEY, {"password": "secret"}), he.BAD_ARGUMENT_NAMES),
    ("self-arg", event(f"{ROOT}.set_is_hydrated", {"value": True, "self": 1}), he.BAD_ARGUMENT_NAMES),
    ("missing-arg", event(f"{ROOT}.set_is_hydrated", {}), he.BAD_ARGUMENT_NAMES),
    ("entries-string", event(SUBMIT, {"form_data": {ENTRIES: "password=x"}}), he.BAD_ARGUMENT_VALUES),
    ("entries-triples", event(SUBMIT, {"form_data": {ENTRIES: [["a", "b", 1]]}}), he.BAD_ARGUMENT_VALUES),
]


@pytest.mark.parametrize(("data", "reason"), [(d, r) for _, d, r in HOSTILE], ids=[i for i, _, _ in HOSTILE])
def test_hostile_events_are_named_for_what_is_wrong(data: object, reason: str) -> None:
    assert he.hostile_reason(data) == reason


def test_the_pages_script_error_report_is_dropped_not_hostile() -> None:
    report = event(he.FRONTEND_EXCEPTION, {"info": "Error: x", "component_stack": ""})
    assert he.hostile_reason(report) is None
    assert he.is_dropped(report)
    assert not he.is_dropped(event(ISSUE_KEY))


def test_the_app_uses_the_guarded_namespace() -> None:
    assert app_module.app is not None
    assert isinstance(app_module.app.event_namespace, he.GuardedEventNamespace)
    assert app_module.app.sio is not None
    assert app_module.app.sio.namespace_handlers["/_event"] is app_module.app.event_namespace


def test_the_log_budget_caps_lines_per_window_and_counts_the_rest() -> None:
    now = [0.0]
    budget = he.LogBudget(lines=2, window_s=60.0, clock=lambda: now[0])
    assert [budget.take() for _ in range(5)] == [(True, 0), (True, 0), (False, 0), (False, 0), (False, 0)]
    now[0] = 59.9
    assert budget.take() == (False, 0)
    now[0] = 60.0
    # A new window: the first line says how many went unlogged before it.
    assert budget.take() == (True, 4)
    assert budget.take() == (True, 0)
    assert budget.take() == (False, 0)


def test_log_lines_carry_no_client_text_and_over_budget_ones_are_summed_up(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    monkeypatch.setattr(he, "_budget", he.LogBudget(lines=3, window_s=60.0, clock=lambda: now[0]))
    forged = "FORGED\nINFO account created"
    environ = {
        "asgi.scope": {"client": ("192.0.2.9", 5000), "headers": [(b"x-forwarded-for", forged.encode())]}
    }
    with caplog.at_level("WARNING", logger=he.logger.name):
        he._log(environ, he.UNKNOWN_HANDLER)
        he._log({"asgi.scope": {"client": (forged, 1)}}, he.BAD_PACKET)
        for _ in range(3):
            he._log(None, he.UNKNOWN_HANDLER)
        now[0] = 61.0
        he._log(None, he.BAD_PACKET)
    assert [r.getMessage() for r in caplog.records] == [
        f"closed a websocket from 192.0.2.9 after a hostile event: {he.UNKNOWN_HANDLER}",
        f"closed a websocket from unknown after a hostile event: {he.BAD_PACKET}",
        f"closed a websocket from unknown after a hostile event: {he.UNKNOWN_HANDLER}",
        "closed 2 more hostile websockets without a line each (over 3 in 60 s)",
        f"closed a websocket from unknown after a hostile event: {he.BAD_PACKET}",
    ]
    assert all(r.levelname == "WARNING" and r.exc_info is None for r in caplog.records)
