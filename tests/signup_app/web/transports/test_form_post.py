"""The no-JavaScript form route's answers that need no database: overload."""

from __future__ import annotations

import html

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from signup_app.accounts.registration import BUSY, Busy
from signup_app.web.transports import form_post

client = TestClient(Starlette(routes=form_post.routes), base_url="http://app.test")
PASSWORD = "Sentinel copper kettle rain ladder"


def test_overload_is_a_503_page_with_the_busy_message_and_the_entries_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raised: list[Busy] = []

    async def busy(_attrs: object, **_kwargs: object) -> None:
        raised.append(Busy())
        raise raised[-1]

    monkeypatch.setattr(form_post, "register_account_in_thread", busy)
    response = client.post(
        form_post.PATH,
        data={"name": "Ada Lovelace", "email": "ada@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(raised[0].retry_after)
    page = html.unescape(response.text)
    assert BUSY in page
    assert 'value="Ada Lovelace"' in page and 'value="ada@example.com"' in page
    assert PASSWORD not in page
