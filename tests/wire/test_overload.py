"""Overload against `reflex run --env prod`: a server whose hash queue is tiny gets many signups at once
on every transport. Some are created, the rest are told "busy" at once, every submit is answered, no
request fails on the server's side, and a tab that was already open keeps getting its answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from signup_app.accounts.passwords import HASH_THREADS
from signup_app.accounts.registration import BUSY
from tests.harness.abuse import LimitedServer, serving
from tests.harness.client import ROOT_STATE, WAIT_S, WireClient, form, settled, state_vars
from tests.harness.data import signup_fields
from tests.harness.wire import page_errors, post_form
from tests.wire.signups import server_errors_in

pytestmark = pytest.mark.wire

# One hash may wait beyond one per hash thread (one per core of this machine, as the server's):
# a burst of signups several times that size overflows it on any machine.
MAX_WAITING_HASHES = 1
TABS = 24
JSON_POSTS = 24 + 4 * (HASH_THREADS + MAX_WAITING_HASHES)
FORM_POSTS = 12


@pytest.fixture(scope="module")
def tiny_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LimitedServer]:
    """A server that lets one hash wait beyond its hash threads; no other limit gets in the way."""
    env = {
        "SIGNUP_MAX_WAITING_HASHES": str(MAX_WAITING_HASHES),
        "SIGNUP_RATE_LIMIT_PER_EMAIL": "100000/minute",
        "SIGNUP_RATE_LIMIT_PER_ADDRESS": "100000/minute",
        "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "1000",
    }
    with serving(tmp_path_factory, "overload", env) as served:
        yield served


async def test_a_burst_beyond_the_queue_is_answered_busy_at_once_on_every_transport(
    tiny_queue: LimitedServer,
) -> None:
    server, accounts = tiny_queue.app, tiny_queue.accounts
    log = tiny_queue.log_window()
    tabs = [WireClient(server.url) for _ in range(TABS)]
    bystander = WireClient(server.url)
    await asyncio.gather(*(tab.connect() for tab in [*tabs, bystander]))
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_S) as http:
            tab_forms = [signup_fields(f"tab{i}") for i in range(TABS)]
            json_bodies = [signup_fields(f"json{i}") for i in range(JSON_POSTS)]
            form_bodies = [signup_fields(f"form{i}") for i in range(FORM_POSTS)]
            json_posts = [asyncio.create_task(http.post("/api/signup", json=body)) for body in json_bodies]
            form_posts = [asyncio.create_task(post_form(http, server, body)) for body in form_bodies]
            starts = await asyncio.gather(
                *(tab.submit(form(**f)) for tab, f in zip(tabs, tab_forms, strict=True))
            )
            # The open tab's cheap event (hydrate), sent while the burst is being handled, is answered.
            cheap_start = len(bystander.messages)
            await bystander.barrier()
            answered = [
                (state_vars(m) or {})
                for m in await asyncio.gather(
                    *(tab.wait_for(settled, start) for tab, start in zip(tabs, starts, strict=True))
                )
            ]
            json_answers = await asyncio.gather(*json_posts)
            form_answers = await asyncio.gather(*form_posts)
    finally:
        await asyncio.gather(*(tab.close() for tab in [*tabs, bystander]), return_exceptions=True)

    assert any((state_vars(m, ROOT_STATE) or {}).get("is_hydrated") for m in bystander.messages[cheap_start:])

    created: list[str] = []
    busy = 0
    for f, final in zip(tab_forms, answered, strict=True):
        if final.get("welcome_name"):
            created.append(f["email"])
        else:
            assert final.get("errors") == {"form": BUSY}, final
            busy += 1
    for body, response in zip(json_bodies, json_answers, strict=True):
        assert response.status_code in (201, 503), response.text
        if response.status_code == 201:
            created.append(body["email"])
        else:
            assert response.json() == {"errors": {"form": BUSY}}
            assert response.headers["retry-after"].isdigit()
            busy += 1
    for body, response in zip(form_bodies, form_answers, strict=True):
        assert response.status_code in (303, 503), response.text
        if response.status_code == 303:
            created.append(body["email"])
        else:
            assert page_errors(response.text) == {"form": BUSY}
            assert response.headers["retry-after"].isdigit()
            assert f'value="{body["email"]}"' in response.text and body["password"] not in response.text
            busy += 1

    print(f"\n{len(created)} created, {busy} busy of {TABS + JSON_POSTS + FORM_POSTS} simultaneous signups")
    assert created and busy, (len(created), busy)
    assert len(created) + busy == TABS + JSON_POSTS + FORM_POSTS
    assert all(len(accounts.with_email(email)) == 1 for email in created)
    assert accounts.count() == len(created)
    assert server_errors_in(log) == []
    # Shedding is logged when it starts, not once per refused signup.
    assert log.compact().count("hashingbusy:") == 1

    # Every place was given back: with the burst over, a signup goes through.
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_S) as http:
        after = await http.post("/api/signup", json=signup_fields("after"))
    assert after.status_code == 201, after.text
