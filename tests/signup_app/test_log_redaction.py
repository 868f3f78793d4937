"""Password values are redacted from log records, whatever logger makes them."""

from __future__ import annotations

import json
import logging

import pytest

from signup_app import log_redaction

SECRET = "Sentinel 'quoted' \"kettle\" rain"


@pytest.mark.parametrize(
    "text",
    [
        repr({"form_data": {"name": "Ada", "password": SECRET}}),
        repr({"__reflex_form_data__": [["name", "Ada"], ["password", SECRET]]}),
        json.dumps({"payload": {"password": SECRET, "email": "a@b.c"}}),
        json.dumps(json.dumps({"password": SECRET})),  # JSON inside a JSON string
        repr({"password_hash": SECRET}),
    ],
)
def test_redact_removes_the_value(text: str) -> None:
    assert "Sentinel" in text
    clean = log_redaction.redact(text)
    assert "Sentinel" not in clean
    assert "[redacted]" in clean


def test_redact_keeps_other_fields() -> None:
    clean = log_redaction.redact(repr({"name": "Ada", "password": SECRET, "email": "ada@example.com"}))
    assert "Ada" in clean and "ada@example.com" in clean


def test_installed_factory_redacts_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    log_redaction.install()
    logger = logging.getLogger("reflex_base.event.processor.base_state_processor")
    payload = {"form_data": {"__reflex_form_data__": [["password", SECRET]]}}
    with caplog.at_level(logging.DEBUG):
        logger.warning("Error transforming event payload: %s", payload)
        try:
            raise ValueError(f"Failed to deserialize event data: {payload}.")
        except ValueError:
            logger.exception("Error in event")
    assert caplog.records
    assert "Sentinel" not in caplog.text


@pytest.mark.parametrize(
    "message",
    [
        # Reflex's messages that quote a whole client payload, whatever its shape.
        "Error transforming event argument 'form_data' with value "
        "'{'__reflex_form_data__': 'password=Sentinel-1'}' and type hint 'SignupForm'",
        "Received event from session abc with no associated token. Event data: {'payload': 'Sentinel-2'}",
        "Failed to deserialize event data: {'name': 1, 'payload': ['Sentinel-3']}.",
        "Event data must be a dictionary, but received ['Sentinel-4'] of type <class 'list'>.",
        "Error processing event queue entry for Event(name='state.nope', payload={'p': 'Sentinel-5'}, "
        "router_data={'token': 't'}) [txid=1]:",
        "{'PASSWORD': 'Sentinel-6'}",
    ],
)
def test_reflex_payload_messages_lose_their_data(message: str) -> None:
    clean = log_redaction.redact(message)
    assert "Sentinel" not in clean
    assert clean.split(" ")[0] == message.split(" ")[0]


def test_client_strings_cannot_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    log_redaction.install()
    with caplog.at_level(logging.INFO):
        logging.getLogger("signup_app.test").warning("refused %r and %s", "a", "evil\nFAKE ERROR line\r\n")
        logging.getLogger("signup_app.test").warning("long %s", "x" * 5000)
    first, second = caplog.records
    assert "\n" not in first.getMessage() and "\\nFAKE ERROR line\\r\\n" in first.getMessage()
    assert len(second.getMessage()) < 400 and second.getMessage().endswith("…[cut]")
