"""Signups over the wire: one sent through any transport as its client sends it; server failures logged."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.harness.abuse import throttle_seconds
from tests.harness.client import WireClient, form, settled, state_vars
from tests.harness.server import Served
from tests.harness.wire import (
    FORM_PATH,
    JSON_PATH,
    LogWindow,
    browser_headers,
    form_page_errors,
    get_account,
    json_errors,
)

TRANSPORTS = ("websocket", "form", "json")
ACCOUNT_NAME = re.compile(r'<dd id="account-name">([^<]*)</dd>')
# What a server-side failure leaves in the log (Rich prints Python's tracebacks).
SERVER_ERROR_IN_LOG = re.compile(r"Traceback|Reflex Backend Exception|Error processing event|signup failed")


def server_errors_in(log: LogWindow) -> list[str]:
    return SERVER_ERROR_IN_LOG.findall(log.text())


@dataclass(frozen=True)
class Reply:
    """A transport's answer: its status (the websocket's stand-in: 201 welcomed, 429 throttled, else
    422), the account as the client is shown it (a name, or the JSON body), or the errors."""

    status: int
    created: object = None
    errors: dict[str, str] = field(default_factory=dict)


async def send(
    transport: str,
    served: Served,
    http: httpx.AsyncClient,
    fields: dict[str, str],
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """One submission from a fresh tab or request; headers as a proxy in front adds them (repeated
    names of a CIMultiDict as several lines)."""
    extra = list((headers or {}).items())
    if transport == "websocket":
        async with WireClient(served.url, headers=headers or {}) as client:
            deltas = await client.submit_and_settle(form(**fields))
        assert deltas[0] == {"pending": True}, deltas
        assert list(client.frontend_events()) == [], "the server answered with a toast"
        if welcome_name := deltas[-1].get("welcome_name"):
            [accepted] = deltas[1:]
            # The tab's single-use sign-in ticket (exchanged over HTTP for the cookie), never a session token.
            assert len(accepted.pop("signin_ticket")) == 43, deltas
            assert accepted == {"pending": False, "welcome_name": welcome_name, "errors": {}}, deltas
            return Reply(201, welcome_name)
        errors = deltas[-1]["errors"]
        return Reply(429 if throttle_seconds(errors) else 422, None, errors)
    if transport == "form":
        browser = [*browser_headers(served).items(), *extra]
        response = await http.post(FORM_PATH, content=urlencode(fields), headers=browser)
        if response.status_code != 303:
            return Reply(response.status_code, None, form_page_errors(response))
        # The account page the 303 goes to, signed in by the cookie it set.
        account = await get_account(http, response)
        name = ACCOUNT_NAME.search(account.text)
        assert name, account.text
        return Reply(303, html.unescape(name.group(1)))
    response = await http.post(JSON_PATH, json=fields, headers=extra)
    if response.status_code == 201:
        return Reply(201, response.json())
    return Reply(response.status_code, None, json_errors(response))


async def submit_at_once(tabs: Sequence[WireClient], forms: Sequence[object]) -> list[dict[str, Any]]:
    """Each connected tab submits its form, all at once; each one's SignupState vars once settled."""
    starts = await asyncio.gather(*(tab.submit(f) for tab, f in zip(tabs, forms, strict=True)))
    ends = await asyncio.gather(*(tab.wait_for(settled, s) for tab, s in zip(tabs, starts, strict=True)))
    return [state_vars(message) or {} for message in ends]
