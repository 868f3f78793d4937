"""Every handler a client can name is deliberately callable or refused, and refused ones never run."""

from __future__ import annotations

import pytest
from reflex_base.registry import RegistrationContext

from signup_app.web.handler_allowlist import callable_handlers, refused_handlers
from signup_app.web.pages.signup import SignupState
from tests.harness.protocol import pipeline_deltas


def test_every_registered_handler_is_listed_once() -> None:
    registered = set(RegistrationContext.get().event_handlers)
    callable_names, refused_names = callable_handlers(), refused_handlers()
    assert registered == callable_names | refused_names, (
        f"not listed: {sorted(registered - callable_names - refused_names)}; gone: {sorted((callable_names | refused_names) - registered)}"
    )
    assert not callable_names & refused_names


def test_every_setvar_is_refused() -> None:
    setters = {name for name in RegistrationContext.get().event_handlers if name.endswith(".setvar")}
    assert setters and setters <= refused_handlers()


@pytest.mark.parametrize(
    ("var", "value"),
    [("welcome_name", "Mallory"), ("errors", {"email": "forged"}), ("pending", True), ("rejections", 99)],
)
async def test_setvar_changes_nothing(var: str, value: object) -> None:
    deltas = await pipeline_deltas(f"{SignupState.get_full_name()}.setvar", {"var_name": var, "value": value})
    signup_deltas = [d[SignupState.get_full_name()] for d in deltas if SignupState.get_full_name() in d]
    assert all(f"{var}_rx_state_" not in d or d[f"{var}_rx_state_"] != value for d in signup_deltas)
