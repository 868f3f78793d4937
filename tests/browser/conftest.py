"""Playwright fixtures: one headless Chromium per session, a fresh context and page per test.

Async API on purpose: Playwright's sync API keeps its own event loop marked as running
while it is alive, and every pytest-asyncio test collected after it (tests/signup_app,
tests/wire) then fails with "Runner.run() cannot be called from a running event loop".
The browser lives on pytest-asyncio's session loop, so browser tests carry
``pytest.mark.asyncio(loop_scope="session")``.

The system Chromium is used ($CHROMIUM_PATH, else /usr/bin/chromium); Playwright's own
download is only a fallback for developer laptops (`make browser` provides one).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Hydration and a password hash take well under this; 5 s (the default) is tight on a busy CI box.
TIMEOUT_MS = 15_000

expect.set_options(timeout=TIMEOUT_MS)


def chromium_path() -> str | None:
    """$CHROMIUM_PATH, else Debian's chromium, else None (Playwright's downloaded browser)."""
    debian = "/usr/bin/chromium"
    return os.environ.get("CHROMIUM_PATH") or (debian if Path(debian).exists() else None)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A page in its own context: no cookies, storage or Reflex token shared between tests."""
    context = await browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def no_js_page(browser: Browser) -> AsyncIterator[Page]:
    """A page in its own context with JavaScript disabled: what a browser without scripts sees."""
    context = await browser.new_context(java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield await context.new_page()
    finally:
        await context.close()
