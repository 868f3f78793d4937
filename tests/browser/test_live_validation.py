"""Live validation in Chromium: messages as a field is left, the password's strength meter.

Typing pauses are the browser's own keystroke delays. Without JavaScript neither runs (test_no_javascript.py).
"""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page, expect

from signup_app.accounts.validation import PasswordStrengthValidator, signup_password_feedback
from signup_app.web.forms.live import SCORE_LABELS
from tests.harness.browser import (
    EMAIL_NO_AT,
    PASSWORD_SHORT,
    WebSocketLog,
    expect_field_error,
    open_signup,
)
from tests.harness.server import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# Keystrokes well inside the meter's 300 ms pause: a whole word typed is one pause.
KEY_DELAY_MS = 40


async def open_page(page: Page, app_server: AppServer) -> WebSocketLog:
    frames = WebSocketLog()
    page.on("websocket", frames.attach)
    await open_signup(page, app_server)
    return frames


def sent_to(frames: WebSocketLog, handler: str) -> list[str]:
    return [frame for frame in frames.sent if f".{handler}" in frame]


async def test_leaving_a_field_shows_the_submits_message_and_fixing_it_clears_it(
    page: Page, app_server: AppServer
) -> None:
    frames = await open_page(page, app_server)
    email = page.get_by_label("Email", exact=True)
    await email.fill("ada")
    await email.press("Tab")
    await expect_field_error(page, "email", EMAIL_NO_AT)

    password = page.get_by_label("Password", exact=True)
    await password.fill("short")
    await password.press("Tab")
    await expect_field_error(page, "password", PASSWORD_SHORT)
    await expect_field_error(page, "email", EMAIL_NO_AT)  # one field's check leaves the others

    await email.fill(f"ada-{uuid.uuid4().hex[:12]}@example.com")
    await email.press("Tab")
    await expect(page.locator("#email-error")).to_have_text("")
    await expect(page.locator("#email")).to_have_attribute("aria-invalid", "false")
    await expect_field_error(page, "password", PASSWORD_SHORT)
    # Checked as the field was left, not while it was typed.
    assert len(sent_to(frames, "check_field")) == 3
    # Leaving an untouched field says nothing.
    await page.get_by_label("Name", exact=True).focus()
    await page.get_by_label("Name", exact=True).press("Tab")
    await expect(page.locator("#name-error")).to_have_text("")


async def test_the_meter_rates_the_password_once_per_pause_from_the_server(
    page: Page, app_server: AppServer
) -> None:
    frames = await open_page(page, app_server)
    await page.get_by_label("Name", exact=True).fill("Ada Lovelace")
    meter_text = page.locator("#password-strength")
    await expect(meter_text).to_have_text("")
    await expect(page.locator("#password-meter")).to_be_hidden()
    await expect(meter_text).to_have_attribute("aria-live", "polite")

    password = page.get_by_label("Password", exact=True)
    weak = "password1234567"
    score = signup_password_feedback(weak, {"name": "Ada Lovelace"}).score
    assert score < 3
    await password.press_sequentially(weak, delay=KEY_DELAY_MS)
    await expect(meter_text).to_have_text(
        f"Strength: {SCORE_LABELS[score]}. {PasswordStrengthValidator.common_message}"
    )
    await expect(page.locator("#password-suggestions li").first).to_be_visible()
    await expect(page.locator("#password-meter")).to_have_attribute("value", str(score))
    assert len(sent_to(frames, "rate_password")) == 1, sent_to(frames, "rate_password")

    await password.fill("")
    secret = f"{uuid.uuid4().hex[:10]} orbit lantern mosaic"
    assert signup_password_feedback(secret, {"name": "Ada Lovelace"}).score == 4
    await password.press_sequentially(secret, delay=KEY_DELAY_MS)
    await expect(meter_text).to_have_text("Strength: Strong.")
    await expect(page.locator("#password-suggestions li")).to_have_count(0)
    await expect(page.locator("#password-meter")).to_have_attribute("value", "4")
    # Clearing the field and typing on without a pause is one pause: one more event, the last value.
    assert len(sent_to(frames, "rate_password")) == 2, sent_to(frames, "rate_password")

    # The user's own name is caught, with the submit's message.
    await password.fill("adalovelace1815")
    await expect(meter_text).to_contain_text(PasswordStrengthValidator.personal_message)

    # The password goes up as an event argument and never comes back.
    core = secret.split()[0]
    assert any(core in frame for frame in sent_to(frames, "rate_password"))
    assert frames.received
    assert not [frame for frame in frames.received if core in frame]
