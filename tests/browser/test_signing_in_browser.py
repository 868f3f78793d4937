"""Signed in after signup, in Chromium: the whole journey with JavaScript on and off, and revocation."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from signup_app.web import routes
from tests.harness.browser import GOOD_PASSWORD, fill_form, open_signup
from tests.harness.data import unique_email
from tests.harness.server import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

COOKIE = "__Host-session"
# Revocation must reach an open tab within this long.
REVOCATION_S = 1.0


async def sign_up(page: Page, app_server: AppServer, email: str, *, javascript: bool = True) -> None:
    """Create an account from the signup page and land on the account page."""
    if javascript:
        await open_signup(page, app_server)
    else:
        await page.goto(f"{app_server.url}/")
    await fill_form(page, name="Ada Lovelace", email=email, password=GOOD_PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url(f"**{routes.ACCOUNT}")
    await expect(page.locator("#account-email")).to_have_text(email)


async def sign_in(page: Page, app_server: AppServer, email: str, *, javascript: bool = True) -> None:
    """Sign in from the sign-in page and land on the account page."""
    await page.goto(f"{app_server.url}{routes.SIGNIN}")
    if javascript:
        await expect(page.locator("#submit")).to_be_enabled()
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**{routes.ACCOUNT}")
    await expect(page.locator("#account-email")).to_have_text(email)


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
async def test_signup_account_reload_sign_out_sign_in(
    new_page: Callable[..., Awaitable[Page]], app_server: AppServer, javascript: bool
) -> None:
    page = await new_page(javascript=javascript)
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
    email = unique_email("journey")
    await sign_up(page, app_server, email, javascript=javascript)
    # The cookie: HttpOnly, Secure (kept on http://127.0.0.1), host-only, out of page scripts' reach.
    [cookie] = [c for c in await page.context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/" and not cookie["domain"].startswith(".")
    if javascript:
        stored = await page.evaluate(
            "[document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage), location.href]"
        )
        assert all(cookie["value"] not in text for text in stored)
    await expect(page.locator("#account-name")).to_have_text("Ada Lovelace")
    await expect(page.locator("#sessions .current")).to_have_text("This device")
    await page.reload()
    await expect(page.locator("#account-email")).to_have_text(email)

    await page.locator("#signout").get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"**{routes.SIGNIN}**")
    assert not [c for c in await page.context.cookies() if c["name"] == COOKIE]
    await page.goto(f"{app_server.url}{routes.ACCOUNT}")
    await page.wait_for_url(f"**{routes.SIGNIN}**")

    await sign_in(page, app_server, email, javascript=javascript)
    # Nothing of the sign-in is in any address the tab went through (its history): page paths only.
    assert visited
    assert all("?" not in url and "ticket" not in url for url in visited), visited


async def test_signing_out_in_one_tab_signs_out_the_others_within_a_second(
    page: Page, app_server: AppServer
) -> None:
    await sign_up(page, app_server, unique_email("tabs"))
    other = await page.context.new_page()
    await other.goto(f"{app_server.url}{routes.ACCOUNT}")
    await expect(other.locator("#account-name")).to_have_text("Ada Lovelace")

    started = time.monotonic()
    await page.locator("#signout").get_by_role("button", name="Sign out").click()
    await expect(other.locator("#signed-out")).to_be_visible(timeout=REVOCATION_S * 1000)
    assert time.monotonic() - started < REVOCATION_S + 0.5  # the click's own navigation included
    await expect(other.locator("#account")).to_have_count(0)


async def test_sign_out_everywhere_else_reaches_another_device(
    new_page: Callable[..., Awaitable[Page]], app_server: AppServer
) -> None:
    email = unique_email("devices")
    here, there = await new_page(), await new_page()  # a laptop and a phone
    await sign_up(here, app_server, email)
    await sign_in(there, app_server, email)
    await here.reload()
    await expect(here.locator("#sessions .session")).to_have_count(2)

    await here.get_by_role("button", name="Sign out of all other devices").click()
    await expect(there.locator("#signed-out")).to_be_visible(timeout=REVOCATION_S * 1000)
    await expect(here.locator("#sessions .session")).to_have_count(1)
    await there.goto(f"{app_server.url}{routes.ACCOUNT}")
    await there.wait_for_url(f"**{routes.SIGNIN}**")
