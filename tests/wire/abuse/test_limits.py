"""Rate limits against `reflex run --env prod`: a flood from one address, the first burst after a start,
one email from many addresses, an owner locked out by another address, a forged X-Forwarded-For."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import httpx
import pytest

from signup_app.accounts.registration import EMAIL_TAKEN
from tests.harness.abuse import (
    DIRECT_PER_ADDRESS,
    PROXIED_MAX_CONNECTIONS,
    PROXIED_PER_ADDRESS,
    PROXIED_PER_EMAIL,
    PROXIED_PER_EMAIL_GLOBAL,
    SERVER_ERROR_IN_LOG,
    LimitedServer,
    close_all,
    connect_all,
    forwarded,
    new_addresses,
    settled_deltas,
    throttle_seconds,
)
from tests.harness.client import WAIT_S, WireClient, form, settled, state_vars
from tests.harness.data import strong_password, unique_email
from tests.harness.wire import browser_headers, page_errors

pytestmark = pytest.mark.wire


# --- 1. A flood from one address -------------------------------------------------------------------

FLOOD_TABS = PROXIED_MAX_CONNECTIONS  # every tab the cap lets one address open
FLOOD_PER_TAB = 50  # 1,000 submits in all
# The other address's signup (an Argon2 hash included) must not queue behind the flood.
BYSTANDER_ROUND_TRIP_LIMIT_MS = 5000


async def test_a_flood_from_one_address_is_throttled_while_another_address_signs_up(
    proxied: LimitedServer,
) -> None:
    """1,000 valid submits from one address within about a second: PROXIED_PER_ADDRESS pass, the
    rest are told to wait, and another address's signup is answered meanwhile.

    A tab's events run one at a time, and a tab that shows its welcome ignores further submits
    (no answer at all), so one tab can create one account: the flood comes from 20 tabs of one
    address, 50 submits each, each a valid form with a distinct email.
    """
    log = proxied.log_window()
    flooder, bystander_address = new_addresses(2)
    tabs = [WireClient(proxied.url, headers=forwarded(flooder)) for _ in range(FLOOD_TABS)]
    bystander = WireClient(proxied.url, headers=forwarded(bystander_address))
    assert await connect_all([*tabs, bystander]) == [None] * (FLOOD_TABS + 1)
    try:
        accounts_before = proxied.accounts.count()
        starts = [len(tab.messages) for tab in tabs]
        emails = [[unique_email(f"flood{t}") for _ in range(FLOOD_PER_TAB)] for t in range(FLOOD_TABS)]
        password = strong_password()
        emitted, emitted_at = 0, 0.0
        half_emitted = asyncio.Event()

        async def flood(tab: WireClient, tab_emails: list[str]) -> None:
            nonlocal emitted, emitted_at
            for email in tab_emails:
                await tab.submit(form(name="Flood Tab", email=email, password=password))
                emitted += 1
                if emitted == FLOOD_TABS * FLOOD_PER_TAB // 2:
                    half_emitted.set()
            emitted_at = time.monotonic()

        flood_started = time.monotonic()
        flooding = asyncio.gather(*(flood(tab, e) for tab, e in zip(tabs, emails, strict=True)))
        async with asyncio.timeout(WAIT_S):
            await half_emitted.wait()

        # Mid-flood, another address signs up.
        sent_at = time.monotonic()
        bystander_deltas = await bystander.submit_and_settle(
            form(name="Bystander", email=unique_email("bystander"), password=strong_password())
        )
        round_trip_ms = (time.monotonic() - sent_at) * 1000
        flood_answers_by_then = sum(len(settled_deltas(tab, s)) for tab, s in zip(tabs, starts, strict=True))

        await flooding
        emitted_in_s = emitted_at - flood_started
        # Each tab's hydrate queues behind its 50 submits: afterwards every answer is in.
        await asyncio.gather(*(tab.barrier() for tab in tabs))
        answered_in_s = time.monotonic() - flood_started
    finally:
        await close_all([*tabs, bystander])

    assert bystander_deltas[-1].get("welcome_name") == "Bystander", bystander_deltas
    assert round_trip_ms < BYSTANDER_ROUND_TRIP_LIMIT_MS

    welcomed, throttled, silent, waits = 0, 0, 0, set()
    for tab, start in zip(tabs, starts, strict=True):
        answers = settled_deltas(tab, start)
        assert answers, "every tab gets at least one answer"
        if "welcome_name" in answers[0]:
            # Its first submit passed; its other 49 are ignored by the welcomed tab (no frame).
            assert answers == [{"errors": {}, "welcome_name": "Flood Tab", "pending": False}], answers
            welcomed += 1
            silent += FLOOD_PER_TAB - 1
            continue
        assert len(answers) == FLOOD_PER_TAB, f"a throttled tab answers every submit: {answers[:3]}"
        for answer in answers:
            seconds = throttle_seconds(answer.get("errors"))
            assert seconds is not None and 0 < seconds <= 60, answer
            waits.add(seconds)
            assert "welcome_name" not in answer
        throttled += len(answers)

    created = proxied.accounts.count() - accounts_before - 1  # the bystander's
    print(
        f"\nflood: {FLOOD_TABS * FLOOD_PER_TAB} submits from one address emitted in {emitted_in_s:.2f} s, "
        f"all answered in {answered_in_s:.2f} s: {welcomed} accounts, {throttled} throttled answers "
        f"(retry in {min(waits, default=0)}-{max(waits, default=0)} s), {silent} submits ignored by "
        f"welcomed tabs; other address's signup round trip {round_trip_ms:.0f} ms, answered when "
        f"{flood_answers_by_then}/{welcomed + throttled} flood answers were in"
    )
    assert created <= PROXIED_PER_ADDRESS, f"{created} accounts from one address, limit {PROXIED_PER_ADDRESS}"
    assert created == welcomed == PROXIED_PER_ADDRESS
    assert throttled == (FLOOD_TABS - welcomed) * FLOOD_PER_TAB
    assert welcomed + throttled + silent == FLOOD_TABS * FLOOD_PER_TAB
    assert not SERVER_ERROR_IN_LOG.findall(log.text())


COLD_BURST_TABS = 20


async def test_the_first_burst_after_a_start_respects_the_limit(cold: LimitedServer) -> None:
    """20 tabs of one address submit at once, the server's first attempts: one may pass (1/minute).

    The limiter is built on first use, inside the worker threads that run the attempts
    (functools.cache does not stop two threads from building one each): attempts counted by a
    limiter that is then dropped are forgotten, and more than the limit get through.
    """
    tabs = [WireClient(cold.url) for _ in range(COLD_BURST_TABS)]
    assert await connect_all(tabs) == [None] * COLD_BURST_TABS
    try:
        starts = await asyncio.gather(
            *(
                tab.submit(form(name="Cold Start", email=unique_email("cold"), password=strong_password()))
                for tab in tabs
            )
        )
        finals = [
            state_vars(m) or {}
            for m in await asyncio.gather(
                *(tab.wait_for(settled, start) for tab, start in zip(tabs, starts, strict=True))
            )
        ]
    finally:
        await close_all(tabs)

    welcomed = [f for f in finals if f.get("welcome_name")]
    limited = [f for f in finals if throttle_seconds(f.get("errors"))]
    print(f"\ncold start, limit 1/minute: {len(welcomed)} of {COLD_BURST_TABS} simultaneous attempts passed")
    assert len(welcomed) + len(limited) == COLD_BURST_TABS, finals
    assert cold.accounts.count() == len(welcomed)
    assert len(welcomed) == 1, f"{len(welcomed)} accounts from one address with a limit of 1/minute"


# --- 2. One email from many addresses; a forged X-Forwarded-For ------------------------------------


async def test_one_email_from_fifty_addresses_is_limited_per_email(proxied: LimitedServer) -> None:
    email = unique_email("target")
    clients = [WireClient(proxied.url, headers=forwarded(a)) for a in new_addresses(50)]
    assert await connect_all(clients) == [None] * len(clients)
    try:
        starts = await asyncio.gather(
            *(
                client.submit(form(name=f"Claimant {i}", email=email, password=strong_password()))
                for i, client in enumerate(clients)
            )
        )
        finals = await asyncio.gather(
            *(client.wait_for(settled, start) for client, start in zip(clients, starts, strict=True))
        )
    finally:
        await close_all(clients)

    outcomes = [state_vars(final) or {} for final in finals]
    welcomed = [o for o in outcomes if o.get("welcome_name")]
    taken = [o for o in outcomes if o.get("errors") == {"email": EMAIL_TAKEN}]
    limited = [o for o in outcomes if throttle_seconds(o.get("errors"))]
    print(f"\none email, 50 addresses: {len(welcomed)} created, {len(taken)} taken, {len(limited)} limited")
    assert len(welcomed) + len(taken) + len(limited) == 50, outcomes
    assert len(welcomed) == 1
    assert len(welcomed) + len(taken) <= PROXIED_PER_EMAIL_GLOBAL
    assert len(limited) >= 50 - PROXIED_PER_EMAIL_GLOBAL
    assert len(proxied.accounts.with_email(email)) == 1


async def _attempt(
    transport: str, served: LimitedServer, address: str, fields: dict[str, str]
) -> tuple[int, dict]:
    """One signup attempt from an address (through the trusted proxy): the status and the errors.

    The websocket has no status: 201 stands for a welcome, 422 for errors, 429 for a throttle.
    """
    if transport == "websocket":
        async with WireClient(served.url, headers=forwarded(address)) as client:
            final = (await client.submit_and_settle(form(**fields)))[-1]
        if final.get("welcome_name"):
            return 201, {}
        return (429 if throttle_seconds(final["errors"]) else 422), final["errors"]
    async with httpx.AsyncClient(base_url=served.url, timeout=WAIT_S) as http:
        if transport == "json":
            response = await http.post("/api/signup", json=fields, headers=forwarded(address))
            return response.status_code, response.json().get("errors", {})
        headers = {**forwarded(address), **browser_headers(served.app)}
        response = await http.post("/signup", content=urlencode(fields), headers=headers)
        status = 201 if response.status_code == 303 else response.status_code
        return status, page_errors(response.text) if status != 201 else {}


@pytest.mark.parametrize("transport", ["websocket", "form", "json"])
async def test_an_attacker_cannot_lock_the_owner_out(proxied: LimitedServer, transport: str) -> None:
    """One address uses up its attempts at the victim's email; the victim, from another, signs up."""
    victim = unique_email(f"victim-{transport}")
    attacker, owner = new_addresses(2)
    statuses = []
    for _ in range(PROXIED_PER_EMAIL + 2):
        status, errors = await _attempt(
            transport, proxied, attacker, {"name": "X", "email": victim, "password": "short"}
        )
        statuses.append(status)
        assert status == 422 or throttle_seconds(errors), errors
    assert statuses == [422] * PROXIED_PER_EMAIL + [429] * 2

    fields = {"name": "Rightful Owner", "email": victim, "password": strong_password()}
    status, errors = await _attempt(transport, proxied, owner, fields)
    assert (status, errors) == (201, {})
    [account] = proxied.accounts.with_email(victim)
    assert account.name == "Rightful Owner"


async def test_an_address_over_its_limit_gets_429_before_its_body_is_parsed(proxied: LimitedServer) -> None:
    """Once an address is over its limit, even a body that is not JSON is answered 429, not 400."""
    address, fresh = new_addresses(2)
    not_json = b'{"name": "never parsed'
    async with httpx.AsyncClient(base_url=proxied.url, timeout=WAIT_S) as http:
        headers = {**forwarded(address), "Content-Type": "application/json"}
        fresh_headers = {**forwarded(fresh), "Content-Type": "application/json"}
        assert (await http.post("/api/signup", content=not_json, headers=fresh_headers)).status_code == 400
        for _ in range(PROXIED_PER_ADDRESS):
            response = await http.post("/api/signup", json={"name": ""}, headers=headers)
            assert response.status_code == 422, response.text
        refused = await http.post("/api/signup", content=not_json, headers=headers)
    assert refused.status_code == 429, refused.text
    wait = throttle_seconds(refused.json()["errors"])
    assert wait is not None and refused.headers["Retry-After"] == str(wait)


async def test_a_forged_forwarded_for_does_not_escape_the_address_limit(direct: LimitedServer) -> None:
    """The server trusts no proxy: every tab is its socket address, whatever it claims."""
    clients = [WireClient(direct.url, headers=forwarded(a)) for a in new_addresses(DIRECT_PER_ADDRESS + 3)]
    assert await connect_all(clients) == [None] * len(clients)
    try:
        results = []
        for i, client in enumerate(clients):  # one after the other: the first three are the ones let in
            deltas = await client.submit_and_settle(
                form(name=f"Spoofer {i}", email=unique_email("spoof"), password=strong_password())
            )
            results.append(deltas[-1])
    finally:
        await close_all(clients)

    assert [r.get("welcome_name") for r in results[:DIRECT_PER_ADDRESS]] == [
        f"Spoofer {i}" for i in range(DIRECT_PER_ADDRESS)
    ], results
    for result in results[DIRECT_PER_ADDRESS:]:
        assert throttle_seconds(result.get("errors")) is not None, result
        assert "welcome_name" not in result
