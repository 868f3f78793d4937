"""The JSON route's answers that need no database: overload."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from signup_app.accounts.registration import BUSY
from signup_app.web import routes
from signup_app.web.forms.signup import SIGNUP
from signup_app.web.transports import json_api

client = TestClient(Starlette(routes=json_api.routes(SIGNUP)), base_url="http://app.test")
FIELDS = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "password": "Sentinel copper kettle rain ladder",
}


@pytest.mark.usefixtures("every_hash_place_held")
def test_overload_is_503_with_retry_after_and_the_busy_message() -> None:
    response = client.post(routes.SIGNUP_API, json=FIELDS)
    assert response.status_code == 503
    assert response.json() == {"errors": {"form": BUSY}}
    assert 2 <= int(response.headers["retry-after"]) <= 5
