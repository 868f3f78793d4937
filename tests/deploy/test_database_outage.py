"""Fault: PostgreSQL stops while someone submits, then comes back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from signup_app.accounts.registration import UNAVAILABLE
from signup_app.accounts.validation import FORM
from tests.harness.client import form
from tests.harness.data import strong_password, unique_email
from tests.harness.deploy import (
    ARGON2ID,
    SERVICE_START_S,
    ClientFactory,
    Deployment,
    assert_log_hygiene,
    new_deployment,
)
from tests.harness.services import PostgresCluster, postgres_cluster, wait_until

pytestmark = pytest.mark.deploy

# The longest a user may wait for "temporarily unavailable" when the database is down.
ANSWER_WITHIN_S = 5.0


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as own:
        yield own


@pytest.fixture
def deployment_on_own_cluster(
    cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    with new_deployment(tmp_path_factory.mktemp("db_outage"), cluster.admin_url) as running:
        yield running


async def test_database_down_answers_unavailable_quickly_and_recovers_without_a_restart(
    cluster: PostgresCluster, deployment_on_own_cluster: Deployment, open_clients: ClientFactory
) -> None:
    deployment = deployment_on_own_cluster
    workers = deployment.worker_pids()
    submitter, bystander = await open_clients(deployment.url, 2)
    assert deployment.health() == (200, {"status": True, "db": True, "redis": True})

    cluster.stop("fast")
    email, password = unique_email("outage"), strong_password()
    sent_at = time.monotonic()
    start = await submitter.submit(form(name="Outage Person", email=email, password=password))
    await submitter.wait(lambda: submitter.settled_since(start), within=ANSWER_WITHIN_S)
    answered_s = time.monotonic() - sent_at
    assert submitter.signup_vars(start)["errors"] == {FORM: UNAVAILABLE}
    assert submitter.events_since(start) == []
    assert answered_s < ANSWER_WITHIN_S

    # Other people's pages keep working: an open tab's event, and a new tab's hydrate.
    await bystander.barrier()
    (newcomer,) = await open_clients(deployment.url)
    assert newcomer.signup_vars().get("signup_key")
    assert deployment.health() == (503, {"status": False, "db": False, "redis": True})

    cluster.start()
    back_at = time.monotonic()
    wait_until(lambda: deployment.health()[0] == 200, SERVICE_START_S, "/_health reports the database")
    assert deployment.health() == (200, {"status": True, "db": True, "redis": True})
    assert deployment.accounts() == [], "the refused submit wrote something"

    # The same tab tries again, and a new person signs up: no restart in between.
    retry = await submitter.submit_and_settle(form(name="Outage Person", email=email, password=password))
    assert retry[-1]["welcome_name"] == "Outage Person", retry
    later = unique_email("after-outage")
    joined = await newcomer.submit_and_settle(
        form(name="After Outage", email=later, password=strong_password())
    )
    assert joined[-1]["welcome_name"] == "After Outage", joined
    recovered_s = time.monotonic() - back_at

    rows = deployment.accounts()
    assert sorted(row.email for row in rows) == sorted([email, later])
    assert all(row.password_hash.startswith(ARGON2ID) for row in rows)
    assert deployment.server.process.poll() is None and deployment.worker_pids() == workers
    assert_log_hygiene(deployment)
    print(
        f"\nDEPLOY-FIGURES database down: UNAVAILABLE after {answered_s * 1000:.0f} ms; "
        f"healthy and two signups done {recovered_s:.2f} s after PostgreSQL was back"
    )
