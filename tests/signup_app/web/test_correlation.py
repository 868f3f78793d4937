"""Each HTTP request gets a correlation id, echoed back and attached to its log records."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from signup_app.web import correlation, log_redaction

log_redaction.install()
logger = logging.getLogger("signup_app.test_correlation")


async def endpoint(_request: Request) -> PlainTextResponse:
    logger.warning("handled")
    return PlainTextResponse(correlation.current() or "")


client = TestClient(correlation.CorrelationId(Starlette(routes=[Route("/", endpoint)])))


def test_a_request_gets_an_id_that_its_logs_carry(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        response = client.get("/")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32 and response.text == request_id
    assert [r.correlation_id for r in caplog.records if r.name == logger.name] == [request_id]


def test_a_well_formed_caller_id_is_kept_and_a_bad_one_replaced() -> None:
    assert client.get("/", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    replaced = client.get("/", headers={"x-request-id": "bad id\r\nx: y"}).headers["x-request-id"]
    assert replaced != "bad id" and len(replaced) == 32


def test_outside_any_request_there_is_no_id() -> None:
    assert correlation.current() is None
