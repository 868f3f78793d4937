"""A production server on a random port, with no origin setting, works in a real browser.

The session's `app_server` runs `reflex run --env prod --single-port` on a free port and is
given no REFLEX_CORS_ALLOWED_ORIGINS: the page's own origin is all it accepts.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page, expect

from tests.harness.server import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_the_page_hydrates_and_signs_up_on_any_port_without_an_origin_setting(
    page: Page, app_server: AppServer
) -> None:
    assert "REFLEX_CORS_ALLOWED_ORIGINS" not in app_server.environment()
    log_start = len(app_server.log_text())

    async with page.expect_websocket() as websocket:
        await page.goto(f"{app_server.url}/")
    assert f":{app_server.port}/" in (await websocket.value).url
    await expect(page.locator("#submit")).to_be_enabled()  # enabled once the websocket has hydrated

    await page.get_by_label("Name", exact=True).fill("Mary Jackson")
    await page.get_by_label("Email", exact=True).fill(f"origin-{uuid.uuid4().hex[:16]}@example.com")
    await page.get_by_label("Password", exact=True).fill("copper kettle orbit lantern 93")
    await page.locator("#submit").click()
    await expect(page.locator("#welcome")).to_have_text("Welcome, Mary Jackson")
    assert "not an accepted origin" not in app_server.log_text()[log_start:]
