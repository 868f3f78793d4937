"""Driving the signup page in Chromium (Playwright) and checking what it stored."""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa
from playwright.async_api import Page, WebSocket, expect

from tests.harness.server import AppServer

# Random enough for zxcvbn, unrelated to any name or address used here.
GOOD_PASSWORD = "copper kettle orbit lantern 93"
IDLE = "Create account"

# The messages the user sees (signup_app/accounts/validation.py; the email one is email-validator's).
NAME_MISSING = "Enter your name."
EMAIL_NO_AT = "An email address must have an @-sign."
PASSWORD_SHORT = "Password must be at least 15 characters (it has 5)."

SHORT_PASSWORD = "short"


async def open_signup(page: Page, app_server: AppServer) -> None:
    """Load the page and wait until it is hydrated (the submit button is enabled then)."""
    async with page.expect_websocket() as websocket:
        await page.goto(f"{app_server.url}/")
    event_url = (await websocket.value).url
    # The build bakes the backend's address into .web/; another `reflex run` in this checkout
    # rebuilds it, and the page then talks to that server (and its database) instead.
    assert urlsplit(event_url).port == app_server.port, (
        f"the page's websocket goes to {event_url}, not to the test server on port "
        f"{app_server.port}: another `reflex run` rebuilt the shared .web/ directory"
    )
    await expect(page.locator("#submit")).to_be_enabled()


async def fill_form(page: Page, *, name: str, email: str, password: str) -> None:
    """Type the three fields as a user does, by their labels."""
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_label("Password", exact=True).fill(password)


def account_rows(app_server: AppServer, email: str) -> list[sa.Row]:
    """The server's stored accounts for this address (case-insensitively)."""
    query = sa.text("SELECT name, email, password_hash FROM account WHERE lower(email) = :email")
    engine = sa.create_engine(app_server.db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(query, {"email": email.lower()}))
    finally:
        engine.dispose()


@dataclass
class WebSocketLog:
    """Every websocket frame the page sent and received, as text."""

    sent: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)

    def attach(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self.sent.append(_text(payload)))
        ws.on("framereceived", lambda payload: self.received.append(_text(payload)))

    def submit_frames(self) -> list[str]:
        return [frame for frame in self.sent if ".submit" in frame]


def _text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode("utf-8", errors="replace")


def http_get(url: str) -> str:
    """A plain HTTP GET: what a client without JavaScript receives."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
        return response.read().decode("utf-8")


async def expect_field_error(page: Page, field_id: str, message: str) -> None:
    """The field is marked invalid and its aria-describedby element(s) carry the message."""
    field_input = page.locator(f"#{field_id}")
    await expect(field_input).to_have_attribute("aria-invalid", "true")
    described_by = await field_input.get_attribute("aria-describedby")
    assert described_by, f"#{field_id} has no aria-describedby"
    ids = described_by.split()
    described = page.locator(", ".join(f"[id='{i}']" for i in ids))
    await expect(described.filter(has_text=message)).to_have_count(1)
    # And assistive technology computes the same description for the input.
    await expect(field_input).to_have_accessible_description(re.compile(re.escape(message)))
