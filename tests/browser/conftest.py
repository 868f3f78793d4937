"""Playwright fixtures: one headless Chromium per session, a fresh context and page per test.

The system Chromium is used ($CHROMIUM_PATH, else /usr/bin/chromium); Playwright's own
download is only a fallback for developer laptops (`make browser` provides one).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Hydration and a password hash take well under this; the default 5 s is tight on a busy CI box.
expect.set_options(timeout=15_000)


def chromium_path() -> str | None:
    """$CHROMIUM_PATH, else Debian's chromium, else None (Playwright's downloaded browser)."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return None


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in its own context: no cookies, storage or Reflex token shared between tests."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()
