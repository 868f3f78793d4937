"""With JavaScript off the prerendered HTML alone signs up: the server's form pages, then the account."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote, quote_plus, urlsplit

import pytest
from playwright.async_api import Page, Request, WebSocket, expect

from signup_app.accounts.validation import clean_signup
from tests.harness.browser import IDLE, account_rows, expect_field_error, fill_form
from tests.harness.data import strong_password, unique_email
from tests.harness.server import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# secrets.token_urlsafe(24), as SignupState.issue_signup_key and the prerendered page's key.
KEY_FORMAT = re.compile(r"[A-Za-z0-9_-]{32}")
LABELS = {"name": "Name", "email": "Email", "password": "Password"}
BAD_EMAIL = "not-an-email"


def encodings(secret: str) -> set[str]:
    """The forms a secret takes in a URL."""
    return {secret, quote(secret), quote_plus(secret), quote(secret, safe="")}


def urls_carrying(urls: list[str], *secrets: str) -> list[str]:
    return [
        url
        for url in urls
        if "password=" in url or any(form in url for secret in secrets for form in encodings(secret))
    ]


async def test_without_javascript_errors_come_back_in_a_server_page_then_the_account_page(
    no_js_page: Page, app_server: AppServer
) -> None:
    """Enter submits (implicit submission) only while the form's default button is enabled."""
    page = no_js_page
    # The bad password is under 15 characters, and distinctive enough to search for in URLs and pages.
    name, bad_password, password = "Ada Lovelace", f"x{uuid.uuid4().hex[:9]}", strong_password()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    websockets: list[WebSocket] = []
    page.on("websocket", lambda ws: websockets.append(ws))
    log_before = len(app_server.log_text())

    await page.goto(f"{app_server.url}/")  # (its markup: test_signup_browser.py)
    key = await page.locator("input[name=signup_key]").get_attribute("value") or ""
    assert KEY_FORMAT.fullmatch(key), key
    # No strength meter and no check as a field is left: those need JavaScript.
    await expect(page.locator("#password-meter")).to_be_hidden()
    await fill_form(page, name=name, email=BAD_EMAIL, password=bad_password)
    await expect(page.locator("#password-strength")).to_have_text("")
    await expect(page.locator("#email-error")).to_have_text("")

    # A bad submit: the browser POSTs the form, the server answers 422 with the form and its errors.
    async with page.expect_response(lambda r: urlsplit(r.url).path == "/signup") as posted:
        await page.get_by_label("Password", exact=True).press("Enter")
    rejected = await posted.value
    await page.wait_for_url(f"{app_server.url}/signup")
    assert rejected.status == 422
    assert urlsplit(rejected.url).query == ""
    # The password and the page's key went in the body (so this recording is live); no echo of it.
    assert f"password={quote_plus(bad_password)}" in (rejected.request.post_data or "")
    assert f"signup_key={key}" in (rejected.request.post_data or "")
    assert bad_password not in await rejected.text()

    # What register answers for these fields: clean_signup's messages, as they are.
    errors = clean_signup({"name": name, "email": BAD_EMAIL, "password": bad_password})
    assert isinstance(errors, dict) and set(errors) == {"email", "password"}, errors
    for field_id, label in LABELS.items():
        await expect(page.get_by_label(label, exact=True)).to_have_id(field_id)
        await expect(page.locator(f"label[for='{field_id}']")).to_have_text(label)
    await expect(page.get_by_role("button", name=IDLE)).to_have_attribute("type", "submit")
    for field_id, message in errors.items():
        await expect_field_error(page, field_id, message)
        # Byte for byte: expect() normalises whitespace, textContent does not.
        assert await page.locator(f"#{field_id}-error").text_content() == message
    await expect(page.locator("#name")).to_have_attribute("aria-invalid", "false")
    assert await page.locator("#name-error").text_content() == ""
    await expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    await expect(page.get_by_label("Email", exact=True)).to_have_value(BAD_EMAIL)
    await expect(page.get_by_label("Password", exact=True)).to_have_value("")

    # Fixed from the server-rendered page (the name as the server refilled it): 303 to the account page.
    email = unique_email("browser")
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    async with page.expect_response(lambda r: urlsplit(r.url).path == "/account") as landed:
        await page.locator("#submit").click()
    account = await landed.value
    post = account.request.redirected_from
    assert post is not None, "the account page was not reached by a redirect"
    assert (post.method, urlsplit(post.url).path, urlsplit(post.url).query) == ("POST", "/signup", "")
    post_response = await post.response()
    assert post_response is not None
    assert (post_response.status, post_response.headers.get("location")) == (303, "/account")
    assert account.status == 200
    # Signed in: the session cookie is __Host- and Secure, and Chromium keeps it on http://127.0.0.1.
    await expect(page.locator("#account-name")).to_have_text(name)
    rows = account_rows(app_server, email)
    assert [(row.name, row.email) for row in rows] == [(name, email)]

    urls = [page.url, *(request.url for request in requests)]
    assert len(urls) > 3
    assert not urls_carrying(urls, bad_password, password), urls
    assert [r.method for r in requests if urlsplit(r.url).path == "/signup"] == ["POST", "POST"]
    assert not websockets, [ws.url for ws in websockets]
    log = app_server.log_text()[log_before:]
    assert bad_password not in log
    assert password not in log
