"""The signup page in headless Chromium against the production server (`app_server`).

The server and its database are shared by the whole session: every test signs up its own
uuid-made address. Nothing here sleeps: Playwright's expect() retries until the page agrees.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from playwright.async_api import Page, Request, WebSocketRoute, expect

from tests.harness.browser import (
    EMAIL_NO_AT,
    GOOD_PASSWORD,
    IDLE,
    WebSocketLog,
    account_rows,
    expect_field_error,
    fill_form,
    http_get,
    open_signup,
)
from tests.harness.data import sentinel_password, unique_email
from tests.harness.server import AppServer

# The browser lives on the session event loop (see conftest.py).
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


async def expect_field_valid(page: Page, field_id: str) -> None:
    field_input = page.locator(f"#{field_id}")
    await expect(field_input).to_have_attribute("aria-invalid", "false")
    await expect(page.locator(f"#{field_id}-error")).to_have_text("")


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
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # The app's own journal mode (it sets WAL on connect): readers are not blocked.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


# --- 1. Markup -----------------------------------------------------------------------------------


class _FormMarkup(HTMLParser):
    """The prerendered HTML's forms, labels, buttons and inputs (each with the id of its form)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []
        self.labels: dict[str, str] = {}  # for -> text
        self.inputs: list[dict[str, str | None]] = []
        self.buttons: list[dict[str, str | None]] = []
        self._form: str | None = None
        self._label_for: str | None = None
        self._label_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append(attributes)
            self._form = attributes.get("id")
        elif tag == "label":
            self._label_for = attributes.get("for") or ""
            self._label_text = []
        elif tag == "input":
            self.inputs.append({**attributes, "in-form": self._form})
        elif tag == "button":
            self.buttons.append(attributes)

    def handle_data(self, data: str) -> None:
        if self._label_for is not None:
            self._label_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "label" and self._label_for is not None:
            self.labels[self._label_for] = "".join(self._label_text).strip()
            self._label_for = None


async def test_prerendered_markup_is_an_accessible_post_form_with_submit_enabled(
    app_server: AppServer,
) -> None:
    html = await asyncio.to_thread(http_get, f"{app_server.url}/")
    markup = _FormMarkup()
    markup.feed(html)

    signup_forms = [f for f in markup.forms if f.get("id") == "signup-form"]
    assert len(signup_forms) == 1, markup.forms
    assert (signup_forms[0].get("method") or "").lower() == "post"
    assert signup_forms[0].get("action") == "/signup"
    # Every password field is inside that form (a GET form would put the password in the URL).
    assert [i["in-form"] for i in markup.inputs if i.get("type") == "password"] == ["signup-form"]

    inputs = {i["id"]: i for i in markup.inputs if i.get("id")}
    for field_id, (label, input_type, autocomplete) in EXPECTED_MARKUP.items():
        assert markup.labels.get(field_id) == label, markup.labels
        attributes = inputs[field_id]
        assert attributes.get("type") == input_type
        assert attributes.get("name") == field_id
        assert attributes.get("autocomplete") == autocomplete  # HTMLParser lower-cases autoComplete

    submit = [b for b in markup.buttons if b.get("id") == "submit"]
    assert len(submit) == 1, markup.buttons
    assert submit[0].get("type") == "submit"
    # Enabled in the HTML: without JavaScript the browser posts the form to the backend.
    assert "disabled" not in submit[0], "the prerendered submit must work without JavaScript"


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


async def test_hydrated_page_labels_inputs_and_enables_submit(page: Page, app_server: AppServer) -> None:
    await open_signup(page, app_server)

    form = page.locator("form#signup-form")
    await expect(form).to_have_attribute("method", re.compile("^post$", re.I))
    for field_id, (label, input_type, autocomplete) in EXPECTED_MARKUP.items():
        # get_by_label resolves through the real <label for>: it proves the association.
        field_input = page.get_by_label(label, exact=True)
        await expect(field_input).to_have_id(field_id)
        await expect(field_input).to_have_attribute("type", input_type)
        await expect(field_input).to_have_attribute("autocomplete", autocomplete)
        await expect(field_input).to_have_attribute("aria-invalid", "false")
        await expect(page.locator(f"label[for='{field_id}']")).to_have_text(label)
    submit = page.get_by_role("button", name=IDLE)
    await expect(submit).to_be_enabled()
    await expect(submit).to_have_attribute("type", "submit")


# --- 2. Errors, then the welcome ---------------------------------------------------------------------


async def test_fixing_an_error_shows_the_welcome_over_the_websocket_and_the_password_never_leaks(
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
    await expect_field_valid(page, "name")
    await expect_field_valid(page, "password")
    await expect(page.locator("#email")).to_be_focused()
    await expect(page.locator("#name")).to_have_value("Grace Hopper")
    await expect(page.locator("#email")).to_have_value("not-an-email")
    await expect(page.get_by_role("button", name=IDLE)).to_be_enabled()
    await screenshot(page, "signup-errors.png")

    email = unique_email("browser")
    await page.locator("#email").fill(email)
    await page.locator("#submit").click()
    await expect(page.locator("#welcome")).to_have_text("Welcome, Grace Hopper")
    await expect(page.get_by_role("status")).to_contain_text("Your account is ready.")
    await expect(page.locator("#signup-form")).to_have_count(0)
    await screenshot(page, "signup-welcome.png")
    [row] = account_rows(app_server, email)
    assert (row.name, row.email) == ("Grace Hopper", email)
    assert row.password_hash.startswith("$argon2id$v=19$"), row.password_hash[:20]
    assert password not in row.password_hash
    assert PasswordHasher().verify(row.password_hash, password)

    # Both submits went over the websocket with the form as it was then, so the recording is live...
    submits = ws_log.submit_frames()
    assert len(submits) == 2 and all(password in frame for frame in submits), submits
    assert "not-an-email" in submits[0] and email in submits[1]
    # ...but nothing the server sent back carries the password, nor a URL, the storage or the log.
    assert ws_log.received, "no websocket frames were recorded"
    assert not [frame for frame in ws_log.received if password in frame]
    assert [r.url for r in requests if r.method == "POST"] == []
    assert page.url == f"{app_server.url}/"
    assert requests, "no requests were recorded"
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

    await expect(page.locator("#welcome")).to_have_text("Welcome, Katherine Johnson")
    submits = ws_log.submit_frames()
    assert len(submits) == 1, submits
    assert len(account_rows(app_server, email)) == 1
