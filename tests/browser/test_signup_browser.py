"""The signup page in Chromium: its form, its hydration, errors then the welcome, the pending state."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from playwright.async_api import Page, Request, WebSocketRoute, expect

from signup_app.web import routes
from tests.harness.browser import (
    EMAIL_NO_AT,
    GOOD_PASSWORD,
    IDLE,
    WebSocketLog,
    account_rows,
    expect_field_error,
    fill_form,
    open_signup,
)
from tests.harness.data import sentinel_password, unique_email
from tests.harness.server import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

EXPECTED_MARKUP = {
    # id: (label text, type, autocomplete)
    "name": ("Name", "text", "name"),
    "email": ("Email", "email", "email"),
    "password": ("Password", "password", "new-password"),
}

SUBMITTING = "Creating account…"


async def screenshot(page: Page, name: str) -> None:
    """Saved only when SIGNUP_SCREENSHOT_DIR names a folder (for a human to look at)."""
    folder = os.environ.get("SIGNUP_SCREENSHOT_DIR")
    if folder:
        await page.screenshot(path=str(Path(folder) / name), full_page=True)


@pytest.fixture
def ws_log(page: Page) -> WebSocketLog:
    """Records the page's websocket traffic; set up before the page navigates."""
    log = WebSocketLog()
    page.on("websocket", log.attach)
    return log


@contextmanager
def sqlite_write_lock(db_url: str) -> Iterator[None]:
    """Hold SQLite's write lock, so the app's INSERT waits in its busy handler until we leave."""
    path = sa.engine.make_url(db_url).database
    assert path, db_url
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        # The app's own journal mode (it sets WAL on connect): readers are not blocked.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")


# --- 1. Markup -----------------------------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["hydrated", "prerendered"])
async def test_the_page_is_a_labelled_post_form_with_submit_enabled(
    new_page: Callable[..., Awaitable[Page]], app_server: AppServer, javascript: bool
) -> None:
    """Without JavaScript the prerendered HTML is all there is: it must post the form by itself."""
    page = await new_page(javascript=javascript)
    await (open_signup(page, app_server) if javascript else page.goto(f"{app_server.url}/"))
    form = page.locator("form#signup-form")
    await expect(form).to_have_attribute("method", re.compile("^post$", re.I))
    await expect(form).to_have_attribute("action", "/signup")
    # The one password field is inside that form (a GET form would put the password in the URL).
    await expect(page.locator("input[type=password]")).to_have_count(1)
    await expect(form.locator("input[type=password]")).to_have_count(1)
    for field_id, (label, input_type, autocomplete) in EXPECTED_MARKUP.items():
        # get_by_label resolves through the real <label for>: it proves the association.
        field_input = page.get_by_label(label, exact=True)
        await expect(field_input).to_have_id(field_id)
        await expect(field_input).to_have_attribute("name", field_id)
        await expect(field_input).to_have_attribute("type", input_type)
        await expect(field_input).to_have_attribute("autocomplete", autocomplete)
        await expect(field_input).to_have_attribute("aria-invalid", "false")
        await expect(page.locator(f"label[for='{field_id}']")).to_have_text(label)
    submit = page.get_by_role("button", name=IDLE)
    await expect(submit).to_have_count(1)
    await expect(submit).to_have_attribute("type", "submit")
    await expect(submit).to_be_enabled()


async def test_submit_waits_for_hydration_once_javascript_runs(page: Page, app_server: AppServer) -> None:
    """With JavaScript, the button is disabled from mount until the websocket hydrates the page."""
    held: list[WebSocketRoute] = []

    async def hold(ws: WebSocketRoute) -> None:
        held.append(ws)  # accepted by the page, never connected to the server: no hydration

    await page.route_web_socket(re.compile(r".*/_event/.*"), hold)
    await page.goto(f"{app_server.url}/")
    submit = page.get_by_role("button", name=IDLE)
    await expect(submit).to_be_disabled()
    assert held, "the page opened its websocket"


# --- 2. Errors, the welcome, then the account page ---------------------------------------------------


async def test_fixing_an_error_signs_up_over_the_websocket_and_the_password_never_leaks(
    page: Page, ws_log: WebSocketLog, app_server: AppServer
) -> None:
    """On a server with no origin setting. The password reaches the server in each submit, nothing else."""
    assert "REFLEX_CORS_ALLOWED_ORIGINS" not in app_server.environment()
    password = sentinel_password()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    log_before = len(app_server.log_text())

    await open_signup(page, app_server)
    await fill_form(page, name="Grace Hopper", email="not-an-email", password=password)
    await page.locator("#submit").click()
    await expect_field_error(page, "email", EMAIL_NO_AT)
    for field_id in ("name", "password"):
        await expect(page.locator(f"#{field_id}")).to_have_attribute("aria-invalid", "false")
        await expect(page.locator(f"#{field_id}-error")).to_have_text("")
    await expect(page.locator("#email")).to_be_focused()
    await expect(page.locator("#name")).to_have_value("Grace Hopper")
    await expect(page.locator("#email")).to_have_value("not-an-email")
    await expect(page.get_by_role("button", name=IDLE)).to_be_enabled()
    await screenshot(page, "signup-errors.png")

    # The welcome shows while the tab posts its ticket for the cookie: that first post is answered
    # 204 (the page stays), then sent again for real.
    await page.route(f"**{routes.SIGNIN_TICKET}", lambda route: route.fulfill(status=204), times=1)
    email = unique_email("browser")
    await page.locator("#email").fill(email)
    await page.locator("#submit").click()
    await expect(page.locator("#welcome")).to_have_text("Welcome, Grace Hopper")
    await expect(page.get_by_role("status")).to_contain_text("Your account is ready. Signing you in…")
    await expect(page.locator("#signup-form")).to_have_count(0)
    await screenshot(page, "signup-welcome.png")
    await page.locator("#signup-ticket").evaluate("form => form.submit()")
    await expect(page.locator("#account-name")).to_have_text("Grace Hopper")
    [row] = account_rows(app_server, email)
    assert (row.name, row.email) == ("Grace Hopper", email)
    assert row.password_hash.startswith("$argon2id$v=19$"), row.password_hash[:20]
    assert password not in row.password_hash
    assert PasswordHasher().verify(row.password_hash, password)

    # Both submits went over the websocket with the form as it was then, so the recording is live...
    submits = ws_log.submit_frames()
    assert len(submits) == 2 and all(password in frame for frame in submits), submits
    assert "not-an-email" in submits[0] and email in submits[1]
    # ...but nothing the server sent back carries the password, nor a URL, a POST, the storage or the log.
    assert ws_log.received, "no websocket frames were recorded"
    assert not [frame for frame in ws_log.received if password in frame]
    posts = [r for r in requests if r.method == "POST"]
    assert {r.url for r in posts} == {f"{app_server.url}{routes.SIGNIN_TICKET}"}
    assert not [r for r in posts if password in (r.post_data or "")]
    assert page.url == f"{app_server.url}{routes.ACCOUNT}"
    assert not [r.url for r in requests if password in r.url or "password=" in r.url]
    storage = await page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert password not in storage
    assert password not in json.dumps(await page.context.cookies())
    # A normal signup adds no line to the server log today; this guards against one that would
    # (Reflex logs whole payloads of events it cannot use, see signup_app/web/log_redaction.py).
    log = app_server.log_text()[log_before:]
    assert password not in log
    assert "not an accepted origin" not in log


# --- 3. Pending state and double submit ------------------------------------------------------------


async def test_pending_state_blocks_a_second_submit(
    page: Page, ws_log: WebSocketLog, app_server: AppServer
) -> None:
    await open_signup(page, app_server)
    email = unique_email("browser")
    await fill_form(page, name="Katherine Johnson", email=email, password=GOOD_PASSWORD)
    submit = page.locator("#submit")

    with sqlite_write_lock(app_server.db_url):
        await submit.click()
        await expect(submit).to_have_text(SUBMITTING)
        await expect(submit).to_be_disabled()
        await expect(submit).to_have_attribute("aria-busy", "true")
        # The server has answered that submit (pending), so its frame is recorded by now.
        assert len(ws_log.submit_frames()) == 1

        # Both ways a user submits again: clicking the (disabled) button and Enter in a field.
        await submit.click(force=True)
        await page.locator("#email").press("Enter")
        await page.locator("#name").press("Enter")
        await expect(submit).to_have_text(SUBMITTING)
        await expect(submit).to_be_disabled()

    await expect(page.locator("#account-name")).to_have_text("Katherine Johnson")
    submits = ws_log.submit_frames()
    assert len(submits) == 1, submits
    assert len(account_rows(app_server, email)) == 1
