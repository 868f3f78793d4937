"""Playwright fixtures: one headless Chromium per session, a fresh context for each page.

Browser tests run against the session's production server (`app_server`), each with its own
uuid-made address, and never sleep: expect() retries until the page agrees. Async API on purpose:
the sync one keeps its own event loop running, and every pytest-asyncio test collected after it then
fails ("Runner.run() cannot be called from a running event loop"); the browser lives on the session
loop, so browser tests carry ``pytest.mark.asyncio(loop_scope="session")``. Chromium is
$CHROMIUM_PATH, else /usr/bin/chromium, else Playwright's own download (`make browser`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

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
async def new_page(browser: Browser) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    """Opens pages, each in a context of its own: no cookies, storage or Reflex token shared."""
    contexts: list[BrowserContext] = []

    async def open_page(*, javascript: bool = True) -> Page:
        contexts.append(await browser.new_context(java_script_enabled=javascript))
        contexts[-1].set_default_timeout(TIMEOUT_MS)
        return await contexts[-1].new_page()

    try:
        yield open_page
    finally:
        for context in contexts:
            await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(new_page: Callable[..., Awaitable[Page]]) -> Page:
    return await new_page()


@pytest_asyncio.fixture(loop_scope="session")
async def no_js_page(new_page: Callable[..., Awaitable[Page]]) -> Page:
    """What a browser without scripts sees."""
    return await new_page(javascript=False)
