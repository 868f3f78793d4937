"""Fault: a worker process is killed (SIGKILL) in the middle of a burst of signups."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from signup_app.accounts.models import signup_key_hash
from tests.harness import deploy
from tests.harness.abuse import eventually
from tests.harness.client import WAIT_S, form
from tests.harness.data import strong_password, unique_email
from tests.harness.services import SERVICE_START_S

pytestmark = pytest.mark.deploy

BURST = 30


async def first_welcome(clients: list[deploy.DeployClient]) -> None:
    """Until any tab shows its welcome."""
    waits = [
        asyncio.create_task(client.wait(lambda c=client: bool(c.signup_vars().get("welcome_name"))))
        for client in clients
    ]
    try:
        done, _ = await asyncio.wait(waits, timeout=WAIT_S, return_when=asyncio.FIRST_COMPLETED)
        assert done, "no signup of the burst was acknowledged"
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def test_a_killed_worker_loses_no_acknowledged_signup_and_resends_are_answered(
    own_deployment: deploy.Deployment, open_clients: deploy.ClientFactory
) -> None:
    deployment = own_deployment
    clients = await open_clients(deployment.url, BURST)
    keys = await asyncio.gather(*(client.issued_signup_key() for client in clients))
    per_worker = deployment.connections_per_worker()
    assert len(per_worker) == 2 and all(per_worker.values()), per_worker

    people = [(f"Burst {i}", unique_email(f"burst{i}")) for i in range(BURST)]
    forms = [
        form(name=name, email=email, password=strong_password(), signup_key=key)
        for (name, email), key in zip(people, keys, strict=True)
    ]
    starts = await asyncio.gather(*(c.submit(f) for c, f in zip(clients, forms, strict=True)))

    # Kill a worker as soon as the first signup is acknowledged: the rest are in flight.
    await first_welcome(clients)
    victim = max(per_worker, key=per_worker.__getitem__)
    os.kill(victim, signal.SIGKILL)

    def outcome() -> str | None:
        if deployment.server.process.poll() is not None:
            return "exited"
        live = deployment.worker_pids()
        return "respawned" if len(live) == 2 and victim not in live else None

    respawned_or_exited = await eventually(lambda: outcome() is not None, SERVICE_START_S)
    assert respawned_or_exited, "granian neither respawned the worker nor exited"
    what_granian_did = outcome()

    # Every tab either got its answer or lost its connection.
    await deploy.all_answered(clients, starts)
    acknowledged = {i for i, c in enumerate(clients) if c.signup_vars().get("welcome_name")}
    for i in acknowledged:
        assert clients[i].signup_vars()["welcome_name"] == people[i][0]

    if what_granian_did == "exited":
        deployment.restart()  # what a service manager does; same port, same Redis, same database

    # Nothing acknowledged is lost, and no row is partial.
    rows = {row.email: row for row in deployment.accounts()}
    for i in acknowledged:
        assert people[i][1] in rows, f"acknowledged signup {people[i]} is not in the database"
    for row in rows.values():
        assert row.name and row.email and row.password_hash.startswith(deploy.ARGON2ID), row

    # Each tab left without an answer sends the SAME submission again, on a new connection (same token).
    unanswered = [i for i in range(BURST) if i not in acknowledged]
    reopened = await open_clients(deployment.url, tokens=[clients[i].token for i in unanswered])
    for i, tab in zip(unanswered, reopened, strict=True):
        assert tab.signup_vars().get("pending") is not True, f"tab {i} is stuck pending after the crash"
        if not tab.signup_vars().get("welcome_name"):  # else its handler finished and saved before the crash
            await tab.submit_and_settle(forms[i])
        answer = tab.signup_vars()
        assert answer.get("welcome_name") == people[i][0], f"tab {i} ({people[i][1]}) got {answer}"

    rows_after = deployment.accounts()
    assert len(rows_after) == BURST
    assert {row.email for row in rows_after} == {email for _name, email in people}
    by_email = {row.email: row for row in rows_after}
    for (name, email), key in zip(people, keys, strict=True):
        row = by_email[email]
        assert (row.name, row.signup_key_hash) == (name, signup_key_hash(key))
        assert row.password_hash.startswith(deploy.ARGON2ID)

    deploy.assert_log_hygiene(deployment)
