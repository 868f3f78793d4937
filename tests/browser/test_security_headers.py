"""The Content-Security-Policy in Chromium: the pages load, hydrate and sign up with none violated.

An init script records each document's `securitypolicyviolation` events; the console, which outlives
each document, is recorded too. A positive control shows the recording is live.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.async_api import ConsoleMessage, Page, expect

from signup_app.web import routes
from tests.harness.browser import GOOD_PASSWORD, fill_form, open_signup
from tests.harness.data import unique_email
from tests.harness.server import AppServer

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


async def test_the_pages_show_their_style_hydrate_and_sign_up_without_a_policy_violation(
    page: Page, app_server: AppServer
) -> None:
    """The no-JS 422 page inlines its <style> (hashed); the signup posts its ticket, then the account page."""
    await page.add_init_script(RECORD_VIOLATIONS)
    console = Console(page)

    # The browser's own POST of the page's form, as without JavaScript: the 422 page the route renders.
    await open_signup(page, app_server)
    async with page.expect_response(lambda r: urlsplit(r.url).path == "/signup") as posted:
        # (The prototype's submit: form.submit is the button whose id is "submit".)
        await page.locator("#signup-form").evaluate("form => HTMLFormElement.prototype.submit.call(form)")
    assert (await posted.value).status == 422
    await expect(page.locator("#email-error")).not_to_have_text("")
    # The stylesheet applied: the form is laid out as a card (signup.css), not unstyled.
    card_style = await page.locator("#signup-form").evaluate("e => getComputedStyle(e).borderRadius")
    assert card_style not in ("", "0px"), card_style
    assert await violations(page) == []

    await open_signup(page, app_server)  # loaded, websocket connected, hydrated
    # React hydrated the prerendered key input, and the page's on_load filled it over the websocket.
    await expect(page.locator("input[name=signup_key]")).to_have_value(KEY_FORMAT)
    await fill_form(page, name="Grace Hopper", email=unique_email("browser"), password=GOOD_PASSWORD)
    await page.locator("#submit").click()
    await page.wait_for_url(f"**{routes.ACCOUNT}")
    await expect(page.locator("#account-name")).to_have_text("Grace Hopper")
    assert await violations(page) == []
    # The console outlives each page. The POST's 422 is the only complaint (a failed resource load).
    assert [p for p in console.problems if "422" not in p] == []

    # The recording is live: an inline script the policy does not list is refused and reported.
    await page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.appendChild(s); }"
    )
    await page.wait_for_function("window.__cspViolations.length > 0")
    assert await page.evaluate("window.__ran") is None
    assert (await violations(page))[0]["directive"] == "script-src-elem"
    assert any("Content Security Policy" in problem for problem in console.problems), console.problems
