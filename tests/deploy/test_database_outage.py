"""Fault: PostgreSQL stops while someone submits, then comes back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from signup_app.accounts.registration import UNAVAILABLE
from signup_app.accounts.validation import FORM
from tests.harness.client import form
from tests.harness.data import strong_password, unique_email
from tests.harness.deploy import ARGON2ID, ClientFactory, Deployment, assert_log_hygiene, new_deployment
from tests.harness.services import SERVICE_START_S, PostgresCluster, postgres_cluster, wait_until

pytestmark = pytest.mark.deploy

# The longest a user may wait for "temporarily unavailable" when the database is down.
ANSWER_WITHIN_S = 5.0


@pytest.fixture
def cluster_deployment(tmp_path: Path) -> Iterator[tuple[PostgresCluster, Deployment]]:
    """A deployment on a PostgreSQL cluster of the test's own, which it may stop."""
    with postgres_cluster() as cluster, new_deployment(tmp_path, cluster.admin_url) as running:
        yield cluster, running


async def test_database_down_answers_unavailable_quickly_and_recovers_without_a_restart(
    cluster_deployment: tuple[PostgresCluster, Deployment], open_clients: ClientFactory
) -> None:
    cluster, deployment = cluster_deployment
    workers = deployment.worker_pids()
    submitter, bystander = await open_clients(deployment.url, 2)

    cluster.stop("fast")
    email = unique_email("outage")
    start = await submitter.submit(form(name="Outage Person", email=email, password=strong_password()))
    await submitter.wait(lambda: submitter.settled_since(start), within=ANSWER_WITHIN_S)  # or TimeoutError
    assert submitter.signup_vars(start)["errors"] == {FORM: UNAVAILABLE}
    assert submitter.events_since(start) == []

    # Other people's pages keep working: an open tab's event, and a new tab's hydrate.
    await bystander.barrier()
    (newcomer,) = await open_clients(deployment.url)
    assert newcomer.signup_vars().get("signup_key")
    assert deployment.health() == (503, {"status": False, "db": False, "redis": True})

    cluster.start()
    wait_until(lambda: deployment.health()[0] == 200, SERVICE_START_S, "/_health reports the database")
    assert deployment.health() == (200, {"status": True, "db": True, "redis": True})
    assert deployment.accounts() == [], "the refused submit wrote something"

    # The same tab tries again, and a new person signs up: no restart in between.
    assert (await submitter.sign_up("Outage Person", email))["welcome_name"] == "Outage Person"
    later = unique_email("after-outage")
    assert (await newcomer.sign_up("After Outage", later))["welcome_name"] == "After Outage"

    rows = deployment.accounts()
    assert sorted(row.email for row in rows) == sorted([email, later])
    assert all(row.password_hash.startswith(ARGON2ID) for row in rows)
    assert deployment.server.process.poll() is None and deployment.worker_pids() == workers
    assert_log_hygiene(deployment)
