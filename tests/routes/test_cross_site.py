"""The HTTP routes in-process: a cross-site request is 403; the app's own origins and scripts are served."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from signup_app.web.transports.http import CROSS_SITE
from tests.harness.server import Served
from tests.harness.wire import (
    EVIL,
    FORM_CONTENT_TYPE,
    FORM_PATH,
    JSON_PATH,
    JSON_TYPE,
    Accounts,
    form_page_errors,
    json_errors,
    own_origins,
    page_errors,
    valid_fields,
)

# --- Cross-site requests -------------------------------------------------------------------------------


CROSS_SITE_HEADERS = [
    {"Origin": EVIL},
    {"Origin": "http://localhost:3000"},  # the development frontend is not a production page's origin
    {"Origin": EVIL, "Sec-Fetch-Site": "same-origin"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
]
CROSS_SITE_IDS = [
    "evil-origin",
    "development-frontend",
    "evil-origin-claiming-same-origin",
    "null-origin",
    "sec-fetch-site-only",
]


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS, ids=CROSS_SITE_IDS)
async def test_json_cross_site_is_403(
    http: httpx.AsyncClient, accounts: Accounts, headers: dict[str, str]
) -> None:
    fields = valid_fields("cross-json")
    for content_type in (JSON_TYPE, "text/plain"):  # text/plain: what a cross-site <form> can send
        response = await http.post(
            JSON_PATH, content=json.dumps(fields), headers={**headers, "Content-Type": content_type}
        )
        assert response.status_code == 403
        assert json_errors(response) == {"form": CROSS_SITE}
        assert "access-control-allow-origin" not in response.headers
    assert accounts.with_email(fields["email"]) == []


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS, ids=CROSS_SITE_IDS)
async def test_form_cross_site_is_403(
    http: httpx.AsyncClient, accounts: Accounts, headers: dict[str, str]
) -> None:
    fields = valid_fields("cross-form")
    response = await http.post(
        FORM_PATH, content=urlencode(fields), headers={**headers, "Content-Type": FORM_CONTENT_TYPE}
    )
    assert response.status_code == 403
    assert form_page_errors(response) == {"form": CROSS_SITE}
    # Nothing of the submission is echoed into a page another site asked for.
    assert fields["email"] not in response.text
    assert accounts.with_email(fields["email"]) == []


async def test_own_origins_are_accepted(
    http: httpx.AsyncClient, app_server: Served, accounts: Accounts
) -> None:
    # The page's own origin is whichever name it was reached by, with no origin setting.
    for origin in own_origins(app_server):
        fields = valid_fields("own")
        response = await http.post(f"{origin}{JSON_PATH}", json=fields, headers={"Origin": origin})
        assert response.status_code == 201, (origin, response.text)
        fields = valid_fields("own")
        response = await http.post(
            f"{origin}{FORM_PATH}",
            content=urlencode(fields),
            headers={"Origin": origin, "Sec-Fetch-Site": "same-origin", "Content-Type": FORM_CONTENT_TYPE},
        )
        assert response.status_code == 303, (origin, page_errors(response.text))
        assert len(accounts.with_email(fields["email"])) == 1


async def test_script_without_origin_is_accepted(http: httpx.AsyncClient, accounts: Accounts) -> None:
    fields = valid_fields("script")
    response = await http.post(JSON_PATH, json=fields)
    assert "origin" not in response.request.headers
    assert "sec-fetch-site" not in response.request.headers
    assert response.status_code == 201
    assert len(accounts.with_email(fields["email"])) == 1
