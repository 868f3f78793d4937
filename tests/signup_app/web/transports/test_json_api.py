"""The JSON route's answers that need no database: overload."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from signup_app.accounts.registration import BUSY, Busy
from signup_app.web.transports import json_api

client = TestClient(Starlette(routes=json_api.routes), base_url="http://app.test")
FIELDS = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "password": "Sentinel copper kettle rain ladder",
}


def test_overload_is_503_with_retry_after_and_the_busy_message(monkeypatch: pytest.MonkeyPatch) -> None:
    raised: list[Busy] = []

    async def busy(_attrs: object, **_kwargs: object) -> None:
        raised.append(Busy())
        raise raised[-1]

    monkeypatch.setattr(json_api, "register_account_in_thread", busy)
    response = client.post(json_api.PATH, json=FIELDS)
    assert response.status_code == 503
    assert response.json() == {"errors": {"form": BUSY}}
    assert response.headers["retry-after"] == str(raised[0].retry_after)
