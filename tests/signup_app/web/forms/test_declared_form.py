"""A form declared here, and nowhere else, gets all three transports, its page, payload type and schema."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, get_type_hints

import pytest
from reflex_base.registry import RegistrationContext
from starlette.applications import Starlette
from starlette.testclient import TestClient

from signup_app.accounts import Accepted, ActionResult, Rejected, Throttled, Unavailable
from signup_app.web.forms.component import form_page
from signup_app.web.forms.declaration import Field, Form, Success
from signup_app.web.forms.html import success_page
from signup_app.web.forms.schema import json_schema, payload_type
from signup_app.web.handler_allowlist import callable_handlers
from signup_app.web.transports import form_post, json_api
from signup_app.web.transports.websocket import FormState, form_state
from tests.harness.protocol import pipeline_deltas

SECRET = "Sentinel-access-code"
subscribed: list[tuple[str, str | None]] = []


async def subscribe(
    fields: Mapping[str, object], /, *, client_address: str | None = None
) -> ActionResult[str]:
    """A stand-in action: its topic picks the result."""
    topic = fields.get("topic") if isinstance(fields, Mapping) else None
    if not isinstance(topic, str) or not topic.strip():
        return Rejected({"topic": "Choose a topic."})
    if fields.get("code") != SECRET:
        return Rejected({"code": "That code is not right."})
    if topic == "busy":
        return Throttled({"form": "Slow down."}, retry_after=7)
    if topic == "down":
        return Unavailable("Down for a moment.", retry_after=3)
    subscribed.append((topic, client_address))
    return Accepted(topic, {"topic": topic})


NEWSLETTER = Form(
    name="newsletter",
    title="Join the newsletter",
    subtitle="One email a month.",
    submit_label="Join",
    pending_label="Joining…",
    fields=(
        Field(
            "topic",
            "Topic",
            "text",
            "off",
            help_text="What you want to read about.",
            schema={"maxLength": 40},
        ),
        Field("code", "Access code", "password", "off", secret=True),
    ),
    action=subscribe,
    path="/newsletter",
    api_path="/api/newsletter",
    success=Success(
        "Subscribed to ", "See you next month.", "topic", "/newsletter/done", {"topic": "string"}
    ),
    operation_id="subscribe",
    summary="Join the newsletter",
)
http = TestClient(
    Starlette(routes=[*form_post.routes(NEWSLETTER), *json_api.routes(NEWSLETTER)]),
    base_url="http://app.test",
)


@pytest.fixture(scope="module", autouse=True)
def newsletter_state() -> Iterator[type[FormState]]:
    """The form's State, registered in a fork of Reflex's registry: other tests never see it.

    (The wire tests' client hashes the whole state tree as the server compiled it.)
    """
    import signup_app.signup_app  # noqa: F401  (registers the app, which the fork keeps)

    current = RegistrationContext.get()
    fork = current.fork()
    fork._set_app(current.app)  # the fork keeps every registration but the app; the pipeline needs it
    with fork:
        yield form_state(NEWSLETTER)


def test_the_payload_type_and_schema_come_from_the_fields() -> None:
    assert get_type_hints(payload_type(NEWSLETTER)) == {"topic": str, "code": str}
    schema = json_schema(NEWSLETTER)
    assert schema["required"] == ["topic", "code"] and schema["additionalProperties"] is False
    assert schema["properties"]["topic"] == {"type": "string", "maxLength": 40}
    document = json_api.openapi_document([NEWSLETTER])
    assert document["paths"]["/api/newsletter"]["post"]["operationId"] == "subscribe"
    assert document["components"]["schemas"]["Subscribe"] == schema
    assert document["components"]["schemas"]["SubscribeAccepted"]["required"] == ["topic"]


def test_the_reflex_page_is_rendered_from_the_declaration() -> None:
    page = str(form_page(NEWSLETTER, NEWSLETTER.path))
    for text in (
        '"newsletter-form"',
        '"Join the newsletter"',
        '"topic-hint"',
        '"code-error"',
        '"/newsletter"',
    ):
        assert text in page
    assert form_state(NEWSLETTER).get_full_name().replace(".", "__") in page


async def _submit(payload: dict[str, Any]) -> dict[str, Any]:
    """Run the form's submit through Reflex's pipeline, with the app's middleware; the state's last delta."""
    name = form_state(NEWSLETTER).get_full_name()
    deltas = await pipeline_deltas(f"{name}.submit", payload)
    assert SECRET not in repr(deltas)
    return {k.removesuffix("_rx_state_"): v for d in deltas if name in d for k, v in d[name].items()}


async def test_the_websocket_submit_runs_the_action() -> None:
    assert f"{form_state(NEWSLETTER).get_full_name()}.submit" in callable_handlers()
    entries = {"__reflex_form_data__": [["topic", "gardens"], ["code", SECRET]]}
    state = await _submit({"form_data": entries})
    assert (state["welcome_name"], state["errors"], state["pending"]) == ("gardens", {}, False)
    assert subscribed[-1][0] == "gardens"


# The stand-in action's refusals: the topic and code sent, the errors, the HTTP status and Retry-After.
REFUSALS = [
    ("", SECRET, {"topic": "Choose a topic."}, 422, None),
    ("rivers", "wrong", {"code": "That code is not right."}, 422, None),
    ("busy", SECRET, {"form": "Slow down."}, 429, "7"),
    ("down", SECRET, {"form": "Down for a moment."}, 503, "3"),
]
RESULT = ("topic", "code", "errors", "status", "retry_after")


@pytest.mark.parametrize(RESULT, REFUSALS)
async def test_the_websocket_shows_each_refusal(
    topic: str, code: str, errors: dict[str, str], status: int, retry_after: str | None
) -> None:
    state = await _submit({"form_data": {"topic": topic, "code": code}})
    assert (state["errors"], state["rejections"], state.get("welcome_name", "")) == (errors, 1, "")


def test_the_form_post_redirects_to_the_success_page() -> None:
    """A form that does not sign in has a success page of its own, the accepted name escaped."""
    fields = {"topic": "<i>gardens</i>", "code": SECRET}
    response = http.post("/newsletter", data=fields, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/newsletter/done")
    page = http.get("/newsletter/done").text
    assert "Subscribed to &lt;i&gt;gardens&lt;/i&gt;" in page and "See you next month." in page
    assert ">Subscribed to<" in success_page(NEWSLETTER, None)  # no name to show


@pytest.mark.parametrize(RESULT, REFUSALS)
def test_the_form_post_renders_each_refusal(
    topic: str, code: str, errors: dict[str, str], status: int, retry_after: str | None
) -> None:
    response = http.post("/newsletter", data={"topic": topic, "code": code}, follow_redirects=False)
    assert response.status_code == status
    assert response.headers.get("retry-after") == retry_after
    assert all(message in response.text for message in errors.values())
    assert 'id="newsletter-form"' in response.text
    assert f'value="{topic}"' in response.text and code not in response.text


@pytest.mark.parametrize(RESULT, [*REFUSALS, ("rivers", SECRET, None, 201, None)])
def test_the_json_route_answers_each_result(
    topic: str, code: str, errors: dict[str, str] | None, status: int, retry_after: str | None
) -> None:
    response = http.post("/api/newsletter", json={"topic": topic, "code": code})
    reply = {"errors": errors} if errors else {"topic": topic}
    assert (response.status_code, response.json()) == (status, reply)
    assert response.headers.get("retry-after") == retry_after
