"""The README's screenshot (docs/signup.png): the page after a refused submit, every field with its message.

Each run writes the file again: a change in the page shows up as a change to the committed image.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.harness.browser import (
    EMAIL_NO_AT,
    NAME_MISSING,
    PASSWORD_SHORT,
    SHORT_PASSWORD,
    expect_field_error,
    fill_form,
    open_signup,
)
from tests.harness.server import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "signup.png"
# A narrow desktop window: the card and its margins, without a wide empty page around it.
VIEWPORT = {"width": 720, "height": 900}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A rendered form with text is tens of kilobytes; far less is a blank image, far more a wrong capture.
MIN_BYTES, MAX_BYTES = 5_000, 2_000_000


def png_size(data: bytes) -> tuple[int, int]:
    """The image's width and height in pixels, from the PNG's header (its first chunk must be IHDR)."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR", f"the first chunk is {kind!r}, not IHDR"
    assert length == 13, f"IHDR is {length} bytes, not 13"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_readme_screenshot_shows_the_errors_and_focus_goes_to_the_first_bad_field(
    page: Page, app_server: AppServer
) -> None:
    await page.set_viewport_size(VIEWPORT)
    await open_signup(page, app_server)
    await fill_form(page, name="", email="ada.example.com", password=SHORT_PASSWORD)
    await page.locator("#submit").click()
    await expect_field_error(page, "name", NAME_MISSING)
    await expect_field_error(page, "email", EMAIL_NO_AT)
    await expect_field_error(page, "password", PASSWORD_SHORT)
    await expect(page.locator("#name")).to_be_focused()
    await expect(page.locator("#email")).to_have_value("ada.example.com")
    # The submit is over once the button reads "Create account" and is enabled again.
    await expect(page.locator("#submit")).to_be_enabled()

    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    await page.screenshot(path=str(SCREENSHOT), full_page=True, animations="disabled", caret="hide")

    data = SCREENSHOT.read_bytes()
    assert MIN_BYTES <= len(data) <= MAX_BYTES, f"{SCREENSHOT} is {len(data)} bytes"
    width, height = png_size(data)
    assert width == VIEWPORT["width"], (width, height)
    assert VIEWPORT["height"] <= height <= 4 * VIEWPORT["height"], (width, height)

    # A second rejection moves focus back to the first bad field, wherever the user was.
    await page.locator("#password").focus()
    await page.locator("#submit").click()
    await expect(page.locator("#name")).to_be_focused()
