"""A re-sent submission gets its account back only when it is the same submission, on every transport.

Someone who has an account's signup key and email (a shared computer, a leaked log, a proxy)
sends them with another password or another name: that is an ordinary attempt at a taken
address. The identical submission sent again gets the answer the first one got.
"""

from __future__ import annotations

import html
import re
import secrets
import uuid
from dataclasses import dataclass

import httpx
import pytest

from signup_app.accounts.passwords import verify_password
from signup_app.accounts.registration import EMAIL_TAKEN
from tests.harness.client import form
from tests.harness.data import strong_password, unique_email
from tests.harness.server import AppServer
from tests.harness.wire import Accounts, ClientFactory, get_welcome, page_errors, post_form

pytestmark = pytest.mark.wire

TRANSPORTS = ("websocket", "form", "json")


@dataclass(frozen=True)
class Reply:
    """What a transport answered: the created account as shown, or the errors."""

    created: object | None
    errors: dict[str, str] | None


async def send(
    transport: str,
    fields: dict[str, str],
    connect: ClientFactory,
    http: httpx.AsyncClient,
    app_server: AppServer,
) -> Reply:
    """One submission through one transport, from a fresh tab or client."""
    if transport == "websocket":
        client = await connect()
        final = (await client.submit_and_settle(form(**fields)))[-1]
        assert list(client.frontend_events()) == []
        if final.get("welcome_name"):
            return Reply(final["welcome_name"], None)
        return Reply(None, final["errors"])
    if transport == "form":
        response = await post_form(http, app_server, fields)
        if response.status_code == 303:
            # The welcome page shows the name the 303's cookie carries.
            welcome = await get_welcome(http, response)
            heading = re.search(r'<h1 id="welcome"[^>]*>Welcome, ([^<]*)</h1>', welcome.text)
            assert heading, welcome.text
            return Reply(html.unescape(heading.group(1)), None)
        assert response.status_code == 422, response.text
        return Reply(None, page_errors(response.text))
    response = await http.post("/api/signup", json=fields)
    if response.status_code == 201:
        return Reply(response.json(), None)
    assert response.status_code == 422, response.text
    return Reply(None, response.json()["errors"])


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_signup_key_brings_back_only_its_own_submission(
    transport: str, app_server: AppServer, connect: ClientFactory, http: httpx.AsyncClient, accounts: Accounts
) -> None:
    email, password, key = unique_email(f"resend-{transport}"), strong_password(), secrets.token_urlsafe(24)
    original = {"name": "Ada Lovelace", "email": email, "password": password, "signup_key": key}

    first = await send(transport, original, connect, http, app_server)
    assert first.created is not None, first

    attacks = {
        "another password": {**original, "password": f"{uuid.uuid4().hex[:12]} forged ladder kettle"},
        "another name": {**original, "name": "Mallory"},
        "another letter case of the address": {**original, "email": email.upper()},
    }
    for what, fields in attacks.items():
        reply = await send(transport, fields, connect, http, app_server)
        assert reply == Reply(None, {"email": EMAIL_TAKEN}), f"{what}: {reply}"

    again = await send(transport, dict(original), connect, http, app_server)
    assert again == first

    [account] = accounts.with_email(email)
    assert account.name == "Ada Lovelace"
    assert verify_password(account.password_hash, password)
    if transport == "json":
        assert first.created == {"id": account.id, "name": "Ada Lovelace", "email": email}
