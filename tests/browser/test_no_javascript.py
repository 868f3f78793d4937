"""The signup journey with JavaScript off: the form POST route.

Against the production server (`app_server`): its prerendered HTML is all a browser without
JavaScript ever gets, so that HTML alone must let the user sign up. Nothing here sleeps:
Playwright's expect() retries, and navigations are awaited through their responses.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import quote, quote_plus, urlsplit

import pytest
from playwright.async_api import Page, Request, WebSocket, expect

from signup_app.accounts.validation import clean_signup
from tests.harness.browser import IDLE, account_rows, fill_form, http_get
from tests.harness.data import strong_password, unique_email
from tests.harness.server import AppServer

# The browser lives on the session event loop (see conftest.py).
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


def submit_button_markup(html: str) -> str:
    """The submit button's start tag in the HTML, for failure messages."""
    match = re.search(r"<button\b[^>]*\bid=\"submit\"[^>]*>", html)
    return match.group(0) if match else "(no <button id=submit> in the HTML)"


async def expect_invalid_with_message(page: Page, field_id: str, message: str) -> None:
    """aria-invalid="true", and one element named by aria-describedby holds exactly the message."""
    field_input = page.locator(f"#{field_id}")
    await expect(field_input).to_have_attribute("aria-invalid", "true")
    ids = (await field_input.get_attribute("aria-describedby") or "").split()
    assert ids, f"#{field_id} has no aria-describedby"
    described = page.locator(", ".join(f"[id='{i}']" for i in ids))
    await expect(described.filter(has_text=message)).to_have_count(1)
    # Byte for byte: expect() normalises whitespace, textContent does not.
    texts = await described.all_text_contents()
    assert message in texts, (message, texts)
    await expect(field_input).to_have_accessible_description(re.compile(re.escape(message)))


async def expect_valid(page: Page, field_id: str) -> None:
    await expect(page.locator(f"#{field_id}")).to_have_attribute("aria-invalid", "false")
    assert await page.locator(f"#{field_id}-error").text_content() == ""


async def expect_labelled_form(page: Page) -> None:
    """The form's inputs, each reached through its <label for>, and its submit button."""
    for field_id, label in LABELS.items():
        await expect(page.get_by_label(label, exact=True)).to_have_id(field_id)
        await expect(page.locator(f"label[for='{field_id}']")).to_have_text(label)
    await expect(page.get_by_role("button", name=IDLE)).to_have_attribute("type", "submit")


async def test_without_javascript_enter_posts_the_pages_key_and_signs_up(
    no_js_page: Page, app_server: AppServer
) -> None:
    """Implicit submission: a browser submits on Enter only when the form's default button is enabled."""
    page = no_js_page
    await page.goto(f"{app_server.url}/")
    key = await page.locator("input[name=signup_key]").get_attribute("value") or ""
    assert KEY_FORMAT.fullmatch(key), key

    name, email = "Katherine Johnson", unique_email("nojs-key")
    await fill_form(page, name=name, email=email, password=strong_password())
    async with page.expect_response(lambda r: urlsplit(r.url).path == "/signup/welcome") as welcomed:
        await page.get_by_label("Password", exact=True).press("Enter")
    post = (await welcomed.value).request.redirected_from
    assert post is not None
    assert f"signup_key={key}" in (post.post_data or "")
    assert (await post.response()).status == 303  # type: ignore[union-attr]
    # The welcome cookie is __Host- and Secure in production; Chromium keeps it on http://127.0.0.1.
    await expect(page.locator("#welcome")).to_have_text(f"Welcome, {name}")
    assert [row.email for row in account_rows(app_server, email)] == [email]


async def test_without_javascript_errors_come_back_in_a_server_page_then_the_welcome(
    no_js_page: Page, app_server: AppServer
) -> None:
    page = no_js_page
    # The bad password is under 15 characters, and distinctive enough to search for in URLs and pages.
    name, bad_password, password = "Ada Lovelace", f"x{uuid.uuid4().hex[:9]}", strong_password()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    websockets: list[WebSocket] = []
    page.on("websocket", lambda ws: websockets.append(ws))
    button = submit_button_markup(await asyncio.to_thread(http_get, f"{app_server.url}/"))
    log_before = len(app_server.log_text())

    await page.goto(f"{app_server.url}/")
    await expect_labelled_form(page)
    submit = page.locator("#submit")
    await expect(submit, f"with JavaScript off nobody can submit; the page serves {button}").to_be_enabled()

    # A bad submit: the browser POSTs the form, the server answers 422 with the form and its errors.
    await fill_form(page, name=name, email=BAD_EMAIL, password=bad_password)
    async with page.expect_response(lambda r: urlsplit(r.url).path == "/signup") as posted:
        await submit.click()
    rejected = await posted.value
    await page.wait_for_url(f"{app_server.url}/signup")
    assert rejected.status == 422
    assert urlsplit(rejected.url).query == ""
    # The password went in the body (so this recording is live), and the server did not echo it.
    assert f"password={quote_plus(bad_password)}" in (rejected.request.post_data or "")
    assert bad_password not in await rejected.text()

    # What register answers for these fields: clean_signup's messages, as they are.
    errors = clean_signup({"name": name, "email": BAD_EMAIL, "password": bad_password})
    assert isinstance(errors, dict) and set(errors) == {"email", "password"}, errors
    await expect_labelled_form(page)
    for field_id, message in errors.items():
        await expect_invalid_with_message(page, field_id, message)
    await expect_valid(page, "name")
    await expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    await expect(page.get_by_label("Email", exact=True)).to_have_value(BAD_EMAIL)
    await expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert not urls_carrying([page.url], bad_password), page.url

    # Fixed from the server-rendered page (the name as the server refilled it): 303 to the welcome.
    email = unique_email("browser")
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    async with page.expect_response(lambda r: urlsplit(r.url).path == "/signup/welcome") as welcomed:
        await page.locator("#submit").click()
    welcome = await welcomed.value
    await page.wait_for_url(f"{app_server.url}/signup/welcome")
    post = welcome.request.redirected_from
    assert post is not None, "the welcome page was not reached by a redirect"
    assert (post.method, urlsplit(post.url).path, urlsplit(post.url).query) == ("POST", "/signup", "")
    post_response = await post.response()
    assert post_response is not None
    assert (post_response.status, post_response.headers.get("location")) == (303, "/signup/welcome")
    assert welcome.status == 200

    await expect(page.locator("#welcome")).to_have_text(f"Welcome, {name}")
    await expect(page.get_by_role("status")).to_contain_text("Your account is ready.")
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
