"""Fault: Redis (tab state, locks, shared rate limits) stops, then comes back on the same port."""

from __future__ import annotations

import pytest

from signup_app.accounts.registration import UNAVAILABLE
from tests.harness.client import form
from tests.harness.data import strong_password, unique_email
from tests.harness.deploy import ClientFactory, Deployment, assert_log_hygiene
from tests.harness.services import SERVICE_START_S, wait_until

pytestmark = pytest.mark.deploy

# The longest a user may wait for a clear answer when Redis is down.
ANSWER_WITHIN_S = 5.0
# Reflex's Redis subscribers (socket records, lost-and-found) retry 5 times, a second apart, then stop.
SUBSCRIBERS = ("_subscribe_socket_record_updates", "_subscribe_lost_and_found_updates")


def is_unavailable_toast(event: dict) -> bool:
    """outages.backend_exception_handler's notice: a toast (or alert) call carrying UNAVAILABLE."""
    function = event.get("payload", {}).get("function")
    return event.get("name") == "_call_function" and UNAVAILABLE in str(function)


async def test_redis_down_gives_a_clear_error_and_signups_resume_when_it_is_back(
    own_deployment: Deployment, open_clients: ClientFactory
) -> None:
    deployment = own_deployment
    workers = deployment.worker_pids()
    (submitter,) = await open_clients(deployment.url)
    mark = deployment.mark()

    deployment.redis.stop()
    email = unique_email("redis-down")
    start = await submitter.submit(form(name="Redis Down", email=email, password=strong_password()))
    await submitter.wait(
        lambda: any(map(is_unavailable_toast, submitter.events_since(start))), ANSWER_WITHIN_S
    )
    # What arrives: one frontend event, the toast; the tab's state is not touched (it could not be loaded).
    assert [is_unavailable_toast(e) for e in submitter.events_since(start)] == [True]
    assert submitter.signup_vars(start) == {}
    assert not submitter.dropped

    assert deployment.health() == (503, {"status": False, "db": True, "redis": False})
    assert deployment.accounts() == [], "a submit with Redis down wrote to the database"

    # A long outage: the subscribers of the tab's worker give up retrying before Redis is back.
    def subscribers_gave_up() -> bool:
        text = deployment.text(mark)
        return all(f"{task}: task exceeded exception limit" in text for task in SUBSCRIBERS)

    wait_until(subscribers_gave_up, 20, "the worker's Redis subscribers give up")
    deployment.redis.start()  # a new redis-server on the same port: empty, as nothing was kept on disk
    wait_until(lambda: deployment.health()[0] == 200, SERVICE_START_S, "/_health reports Redis")
    assert deployment.health() == (200, {"status": True, "db": True, "redis": True})

    # New connections sign up again, with no restart of the app.
    (newcomer,) = await open_clients(deployment.url)
    later = unique_email("redis-back")
    assert (await newcomer.sign_up("Redis Back", later))["welcome_name"] == "Redis Back"

    # The tab that stayed open lost its state with Redis; Reflex rehydrates it and runs the submit.
    again = await submitter.submit(form(name="Redis Old Tab", email=email, password=strong_password()))
    await submitter.wait(lambda: bool(submitter.signup_vars(again).get("welcome_name")))
    assert submitter.signup_vars(again)["welcome_name"] == "Redis Old Tab"

    assert sorted(row.email for row in deployment.accounts()) == sorted([email, later])
    assert deployment.server.process.poll() is None and deployment.worker_pids() == workers
    assert_log_hygiene(deployment)
