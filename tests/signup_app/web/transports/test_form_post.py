"""The no-JavaScript form route's answers that need no database: overload."""

from __future__ import annotations

import html

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from signup_app.accounts.registration import BUSY
from signup_app.web import routes
from signup_app.web.forms.signup import SIGNUP
from signup_app.web.transports import form_post

client = TestClient(Starlette(routes=form_post.routes(SIGNUP)), base_url="http://app.test")
PASSWORD = "Sentinel copper kettle rain ladder"


@pytest.mark.usefixtures("every_hash_place_held")
def test_overload_is_a_503_page_with_the_busy_message_and_the_entries_kept() -> None:
    response = client.post(
        routes.SIGNUP_FORM,
        data={"name": "Ada Lovelace", "email": "ada@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 503
    assert 2 <= int(response.headers["retry-after"]) <= 5
    page = html.unescape(response.text)
    assert BUSY in page
    assert 'value="Ada Lovelace"' in page and 'value="ada@example.com"' in page
    assert PASSWORD not in page
