"""The shared HTTP helpers: the cross-site check and the capped body read."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from signup_app.web.transports.http import BodyTooLargeError, is_cross_site, read_body


async def probe(request: Request) -> PlainTextResponse:
    try:
        size = len(await read_body(request, 10))
    except BodyTooLargeError:
        size = -1
    return PlainTextResponse(f"{is_cross_site(request)} {size}")


client = TestClient(Starlette(routes=[Route("/", probe, methods=["POST"])]), base_url="http://app.test")


@pytest.mark.parametrize(
    ("headers", "cross_site"),
    [
        ({}, False),  # a script: no Origin, no Sec-Fetch-Site
        ({"origin": "http://app.test"}, False),  # this server's own pages
        ({"origin": "http://localhost:3000"}, False),  # the frontend's origin in development
        ({"origin": "https://evil.example"}, True),
        ({"sec-fetch-site": "cross-site"}, True),
    ],
)
def test_cross_site_requests_are_recognised(headers: dict[str, str], cross_site: bool) -> None:
    """The request's scope goes to the origin decision (its cases: tests/signup_app/web/test_origins.py)."""
    assert client.post("/", headers=headers).text.split()[0] == str(cross_site)


def test_body_over_the_limit_is_refused_whatever_content_length_says() -> None:
    assert client.post("/", content=b"x" * 10).text.split()[1] == "10"
    assert client.post("/", content=b"x" * 11).text.split()[1] == "-1"
    chunks = iter([b"x" * 6, b"x" * 6])  # streamed: no Content-Length
    assert client.post("/", content=chunks).text.split()[1] == "-1"
