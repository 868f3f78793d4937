"""Two granian workers behind one port, sharing state and rate limits through Redis."""

from __future__ import annotations

import asyncio
import random
import uuid
from unittest.mock import ANY

import httpx
import pytest
import redis

from signup_app.accounts.registration import EMAIL_TAKEN
from signup_app.web import routes
from signup_app.web.account import AccountState
from tests.harness.client import form, state_vars
from tests.harness.data import strong_password, unique_email
from tests.harness.deploy import (
    ARGON2ID,
    ClientFactory,
    DeployClient,
    Deployment,
    all_answered,
    assert_log_hygiene,
    folded,
)

pytestmark = pytest.mark.deploy

CLIENTS = 24


async def test_signups_on_both_workers_and_tab_state_survives_a_restart(
    deployment: Deployment, open_clients: ClientFactory
) -> None:
    mark = deployment.mark()
    workers = deployment.worker_pids()
    assert len(workers) == 2, workers

    clients = await open_clients(deployment.url, CLIENTS)
    per_worker = deployment.connections_per_worker()
    assert sum(per_worker.values()) >= CLIENTS, per_worker
    assert all(count > 0 for count in per_worker.values()), f"one worker holds every connection: {per_worker}"

    people = [(f"Person {i} {uuid.uuid4().hex[:6]}", unique_email(f"multi{i}")) for i in range(CLIENTS)]
    pairs = zip(clients, people, strict=True)
    results = await asyncio.gather(*(client.sign_up(name, email) for client, (name, email) in pairs))
    for (name, _email), state in zip(people, results, strict=True):
        assert state == {"pending": False, "errors": {}, "welcome_name": name, "signin_ticket": ANY}

    rows = {row.email: row for row in deployment.accounts()}
    for name, email in people:
        assert rows[email].name == name
        assert rows[email].password_hash.startswith(ARGON2ID)

    created = [r for r in deployment.records(mark) if r.get("message", "").startswith("account created")]
    assert len(created) == CLIENTS
    assert {r["pid"] for r in created} == workers, f"accounts made by {[r['pid'] for r in created]}"

    # A failed submit (its errors) and a success (its welcome and ticket) in two tabs, then a restart.
    failed, welcomed = await open_clients(deployment.url, 2)
    failed_key = await failed.issued_signup_key()
    rejected = folded(
        await failed.submit_and_settle(form(name="Restart Failed", email="not an email", password="short"))
    )
    assert set(rejected["errors"]) == {"email", "password"}, rejected
    await welcomed.sign_up("Restart Welcome")
    await asyncio.gather(failed.close(), welcomed.close())
    # The tabs' state is in the deployment's Redis (keys "<token>_<state>"), not in a worker.
    with redis.Redis.from_url(deployment.redis.url) as store:
        assert store.keys(f"{failed.token}_*") and store.keys(f"{welcomed.token}_*")

    deployment.restart()
    assert deployment.worker_pids().isdisjoint(workers), "the restart kept the old workers"

    failed_again, welcomed_again = await open_clients(deployment.url, tokens=[failed.token, welcomed.token])
    assert failed_again.signup_vars()["errors"] == rejected["errors"]
    assert failed_again.signup_vars()["rejections"] == 1
    assert failed_again.signup_vars()["signup_key"] == failed_key
    # A new connection is never handed an earlier one's sign-in ticket, nor its welcome.
    # (A first connect is sent only what differs from the defaults: both are back to "".)
    again = welcomed_again.signup_vars()
    assert again.get("welcome_name", "") == again.get("signin_ticket", "") == "", again
    assert_log_hygiene(deployment)  # both starts' logs


async def test_one_email_from_twenty_tabs_on_two_workers_makes_one_account(
    deployment: Deployment, open_clients: ClientFactory
) -> None:
    mark = deployment.mark()
    clients = await open_clients(deployment.url, 20)
    per_worker = deployment.connections_per_worker()
    assert len(per_worker) == 2 and all(per_worker.values()), per_worker

    rng = random.Random(4)
    address = unique_email("same")
    variants = ["".join(ch.upper() if rng.random() < 0.5 else ch.lower() for ch in address) for _ in clients]
    fields = [form(name=f"Same {i}", email=e, password=strong_password()) for i, e in enumerate(variants)]
    starts = await asyncio.gather(*(c.submit(f) for c, f in zip(clients, fields, strict=True)))
    await all_answered(clients, starts)
    finals = [client.signup_vars(start) for client, start in zip(clients, starts, strict=True)]

    welcomed = [state for state in finals if state.get("welcome_name")]
    refused = [state["errors"] for state in finals if not state.get("welcome_name")]
    assert len(welcomed) == 1, finals
    assert refused == [{"email": EMAIL_TAKEN}] * 19

    rows = [row for row in deployment.accounts() if row.email.lower() == address.lower()]
    assert len(rows) == 1
    assert rows[0].name == welcomed[0]["welcome_name"]

    events = [e for client, start in zip(clients, starts, strict=True) for e in client.events_since(start)]
    assert events == [], f"the server sent frontend events (toasts?): {events}"
    # No server-side failure: no error record, no exception, no traceback.
    records = deployment.records(mark)
    assert not [r for r in records if r.get("level") in {"error", "critical"} or "exception" in r], records
    assert "Traceback" not in deployment.text(mark)
    assert_log_hygiene(deployment)


async def test_a_sign_out_reaches_the_sessions_tabs_on_both_workers_within_a_second(
    deployment: Deployment,
) -> None:
    """Revocation is pushed through Redis to every tab of the session, whichever worker holds it."""
    account_state = AccountState.get_full_name()

    def signed_in(tab: DeployClient) -> object:
        return folded(state_vars(m, account_state) or {} for m in tab.messages).get("signed_in")

    async with httpx.AsyncClient(base_url=deployment.url) as http:
        fields = {"name": "Tab Owner", "email": unique_email("revoke"), "password": strong_password()}
        created = await http.post(routes.SIGNUP_API, json=fields)
        cookie = {"Cookie": created.headers["set-cookie"].split(";", 1)[0]}
        tabs = [DeployClient(deployment.url, headers=cookie) for _ in range(16)]
        try:
            await asyncio.gather(*(tab.connect() for tab in tabs))
            assert all(count > 0 for count in deployment.connections_per_worker().values())
            await asyncio.gather(*(tab.emit(f"{account_state}.load", {}) for tab in tabs))
            await asyncio.gather(*(tab.wait(lambda tab=tab: signed_in(tab) is True) for tab in tabs))
            assert (await http.post(routes.SIGNOUT, headers=cookie)).status_code == 303
            await asyncio.gather(
                *(tab.wait(lambda tab=tab: signed_in(tab) is False, within=1.0) for tab in tabs)
            )
        finally:
            await asyncio.gather(*(tab.close() for tab in tabs), return_exceptions=True)
