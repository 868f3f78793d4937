"""Every handler a client can name is deliberately callable or refused, and refused ones never run."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from reflex.event import Event
from reflex.istate.manager.memory import StateManagerMemory
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor
from reflex_base.registry import RegistrationContext

from signup_app import signup_app as app_module
from signup_app.web.handler_allowlist import callable_handlers, refused_handlers
from signup_app.web.pages.signup import SignupState


def test_every_registered_handler_is_listed_once() -> None:
    registered = set(RegistrationContext.get().event_handlers)
    CALLABLE, REFUSED = callable_handlers(), refused_handlers()
    assert registered == CALLABLE | REFUSED, (
        f"not listed: {sorted(registered - CALLABLE - REFUSED)}; gone: {sorted((CALLABLE | REFUSED) - registered)}"
    )
    assert not CALLABLE & REFUSED


def test_every_setvar_is_refused() -> None:
    setters = {name for name in RegistrationContext.get().event_handlers if name.endswith(".setvar")}
    assert setters and setters <= refused_handlers()


async def _run(name: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    assert app_module.app is not None
    processor = BaseStateEventProcessor(middleware=app_module.app).configure(
        state_manager=StateManagerMemory()
    )
    token = str(uuid.uuid4())
    async with processor:
        event = Event(name=name, payload=payload, router_data={"pathname": "/", "asPath": "/"})
        return [dict(d) async for d in processor.enqueue_stream_delta(token, event)]


@pytest.mark.parametrize(
    ("var", "value"),
    [("welcome_name", "Mallory"), ("errors", {"email": "forged"}), ("pending", True), ("rejections", 99)],
)
async def test_setvar_changes_nothing(var: str, value: object) -> None:
    deltas = await _run(f"{SignupState.get_full_name()}.setvar", {"var_name": var, "value": value})
    signup_deltas = [d[SignupState.get_full_name()] for d in deltas if SignupState.get_full_name() in d]
    assert all(f"{var}_rx_state_" not in d or d[f"{var}_rx_state_"] != value for d in signup_deltas)
