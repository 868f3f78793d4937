"""The Content-Security-Policy in Chromium: the page loads, hydrates and signs up with none violated.

Against the production server (`app_server`). An init script records every
`securitypolicyviolation` event of each document on window; the console is recorded too.
A positive control (an inline script the policy does not list) shows the recording is live.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.async_api import ConsoleMessage, Page, Response, expect

from tests.harness.browser import GOOD_PASSWORD, account_rows, fill_form, open_signup
from tests.harness.data import unique_email
from tests.harness.server import AppServer

# The browser lives on the session event loop (see conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# secrets.token_urlsafe(24), as SignupState.issue_signup_key and the prerendered page's key.
KEY_FORMAT = re.compile(r"^[A-Za-z0-9_-]{32}$")

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push({
    directive: event.effectiveDirective, blocked: event.blockedURI, sample: event.sample,
  });
});
"""


class Console:
    """Console messages of type error or warning, and uncaught page errors."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        # The app has no icon: Chromium's own request for one is not the page's doing.
        if message.location.get("url", "").endswith("/favicon.ico"):
            return
        if message.type in ("error", "warning"):
            self.problems.append(f"{message.type}: {message.text} ({message.location.get('url')})")


async def violations(page: Page) -> list[dict]:
    return await page.evaluate("window.__cspViolations")


async def test_the_page_hydrates_and_signs_up_without_a_policy_violation(
    page: Page, app_server: AppServer
) -> None:
    await page.add_init_script(RECORD_VIOLATIONS)
    console = Console(page)
    documents: list[Response] = []
    page.on("response", lambda r: documents.append(r) if r.request.resource_type == "document" else None)

    await open_signup(page, app_server)  # loaded, websocket connected, hydrated
    [document] = documents
    policy = await document.header_value("content-security-policy") or ""
    assert "script-src 'self' 'sha256-" in policy, policy
    assert "frame-ancestors 'none'" in policy, policy
    # React hydrated the prerendered key input, and the page's on_load filled it over the websocket.
    await expect(page.locator("input[name=signup_key]")).to_have_value(KEY_FORMAT)

    name, email = "Grace Hopper", unique_email("browser")
    await fill_form(page, name=name, email=email, password=GOOD_PASSWORD)
    await page.locator("#submit").click()
    await expect(page.locator("#welcome")).to_have_text(f"Welcome, {name}")
    assert [row.email for row in account_rows(app_server, email)] == [email]

    assert await violations(page) == []
    assert console.problems == []

    # The recording is live: an inline script the policy does not list is refused and reported.
    await page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.appendChild(s); }"
    )
    await page.wait_for_function("window.__cspViolations.length > 0")
    assert await page.evaluate("window.__ran") is None
    assert (await violations(page))[0]["directive"] == "script-src-elem"


async def test_the_server_rendered_pages_show_their_style_without_a_policy_violation(
    page: Page, app_server: AppServer
) -> None:
    """The no-JS path's pages (the 422 form and the welcome) carry an inline <style>: hashed, not blocked."""
    await page.add_init_script(RECORD_VIOLATIONS)
    console = Console(page)

    # A rejected submit from the server's form page: the 422 page rendered by the form route.
    await page.goto(f"{app_server.url}/signup/welcome")
    async with page.expect_response(lambda r: urlsplit(r.url).path == "/signup") as posted:
        await page.evaluate(
            """() => {
              const form = document.createElement('form');
              form.method = 'post';
              form.action = '/signup';
              for (const [name, value] of [['name', 'Ada'], ['email', 'not-an-email'], ['password', 'x']]) {
                const input = document.createElement('input');
                input.name = name; input.value = value; form.appendChild(input);
              }
              document.body.appendChild(form);
              form.submit();
            }"""
        )
    assert (await posted.value).status == 422
    await expect(page.locator("#email-error")).not_to_have_text("")
    # The stylesheet applied: the form is laid out as a card (signup.css), not unstyled.
    card_style = await page.locator("#signup-form").evaluate("e => getComputedStyle(e).borderRadius")
    assert card_style not in ("", "0px"), card_style
    assert await violations(page) == []
    # The POST's 422 is the only console complaint a browser makes here (a failed resource load).
    assert [p for p in console.problems if "422" not in p] == []
