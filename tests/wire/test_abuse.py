"""Abuse of the signup against `reflex run --env prod`: floods, one email from many addresses, an
owner locked out by another address, the per-address websocket cap, forged handler calls, oversized frames and abandoned tabs.

Three servers of their own configuration are started once per module: `proxied` (trusts
X-Forwarded-For from 127.0.0.1, low limits, a cap of 20 sockets), `direct` (trusts no proxy, tab
state expiring after 2 s) and `cold` (no attempt seen yet, for the first burst after a start).
Answers are awaited as frames, with timeouts; the only polling is for what the server gives no
signal of (a freed connection slot, expired state files).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import struct
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import socketio.exceptions
import sqlalchemy as sa
from reflex.state import State

from signup_app.accounts.rate_limits import too_many_attempts
from signup_app.accounts.registration import EMAIL_TAKEN
from signup_app.accounts.validation import FORM
from signup_app.web.connection_cap import TOO_MANY_CONNECTIONS
from signup_app.web.handler_allowlist import refused_handlers
from signup_app.web.hostile_events import FRONTEND_EXCEPTION, REFUSED_HANDLER, UNKNOWN_HANDLER
from tests.app_server import AppServer, start_app_server
from tests.conftest import migrate
from tests.wire.client import (
    ROOT_STATE,
    SIGNUP_STATE,
    WAIT_S,
    WireClient,
    form,
    settled,
    state_vars,
)
from tests.wire.conftest import Accounts, LogWindow, page_errors, state_file

pytestmark = pytest.mark.wire

TOO_MANY = re.compile(r"Too many attempts, try again in (\d+) seconds\.")
# What a server-side failure leaves in the log.
SERVER_ERROR_IN_LOG = re.compile(r"Traceback|Reflex Backend Exception|signup failed|database is locked")

# The proxied server believes X-Forwarded-For from 127.0.0.1 (the tests' own address).
PROXIED_PER_ADDRESS = 10
PROXIED_PER_EMAIL = 5
PROXIED_PER_EMAIL_GLOBAL = 12
PROXIED_MAX_CONNECTIONS = 20
# The direct server trusts no proxy, so every test client is 127.0.0.1 to it.
DIRECT_PER_ADDRESS = 3
DIRECT_TOKEN_EXPIRATION_S = 2


# --- Servers ---------------------------------------------------------------------------------------


@dataclass
class Served:
    """A running server of its own configuration, its accounts table and its state folder."""

    app: AppServer
    accounts: Accounts
    states: Path

    @property
    def url(self) -> str:
        return self.app.url

    def log_window(self) -> LogWindow:
        return LogWindow(self.app, len(self.app.log_text()))

    def state_files(self) -> list[Path]:
        return list(self.states.glob("*.pkl")) if self.states.is_dir() else []


@contextlib.contextmanager
def serving(tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str]) -> Iterator[Served]:
    """A production server of its own, on a fresh migrated SQLite, with env on top of the usual."""
    folder = tmp_path_factory.mktemp(name)
    url = f"sqlite:///{folder / 'accounts.db'}"
    migrate(url)
    with pytest.MonkeyPatch.context() as patch:
        # In-memory limits and disk state, whatever the developer's shell says.
        for variable in ("REFLEX_REDIS_URL", "SIGNUP_TRUSTED_PROXIES"):
            patch.delenv(variable, raising=False)
        # Bursts here are about limits, not overload: no signup is shed as busy.
        env = {"SIGNUP_MAX_WAITING_HASHES": "100000", **env}
        server = start_app_server(url, folder / "server.log", extra_env=env)
    engine = sa.create_engine(url)
    try:
        yield Served(server, Accounts(engine), folder / ".states")
    finally:
        engine.dispose()
        server.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Behind a trusted proxy at 127.0.0.1: limits per X-Forwarded-For address; a cap of 20 sockets.

    One signup attempt is made before the tests, so that they see a server in its steady state:
    the first attempts after a start are the subject of test_the_first_burst_after_a_start_....
    """
    with serving(
        tmp_path_factory,
        "proxied",
        {
            "SIGNUP_TRUSTED_PROXIES": "127.0.0.1",
            "SIGNUP_RATE_LIMIT_PER_ADDRESS": f"{PROXIED_PER_ADDRESS}/minute",
            "SIGNUP_RATE_LIMIT_PER_EMAIL": f"{PROXIED_PER_EMAIL}/minute",
            "SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL": f"{PROXIED_PER_EMAIL_GLOBAL}/minute",
            "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": str(PROXIED_MAX_CONNECTIONS),
        },
    ) as served:
        warm_up = httpx.post(
            f"{served.url}/api/signup", json={"name": ""}, headers=forwarded("192.0.2.1"), timeout=WAIT_S
        )
        assert warm_up.status_code == 422, warm_up.text
        yield served


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server that has seen no signup attempt yet, allowing one attempt per address a minute."""
    env = {
        "SIGNUP_RATE_LIMIT_PER_ADDRESS": "1/minute",
        "SIGNUP_RATE_LIMIT_PER_EMAIL": "100000/minute",
        "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "100",
    }
    with serving(tmp_path_factory, "cold", env) as served:
        yield served


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """No trusted proxy, a low per-address limit, and tab state expiring after 2 s."""
    env = {
        "SIGNUP_RATE_LIMIT_PER_ADDRESS": f"{DIRECT_PER_ADDRESS}/minute",
        "SIGNUP_RATE_LIMIT_PER_EMAIL": "100000/minute",
        "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "200",
        "REFLEX_REDIS_TOKEN_EXPIRATION": str(DIRECT_TOKEN_EXPIRATION_S),
    }
    with serving(tmp_path_factory, "direct", env) as served:
        yield served


# --- Helpers ---------------------------------------------------------------------------------------


def unique_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex}@example.com"


def strong_password() -> str:
    return f"{uuid.uuid4().hex[:12]} orbit lantern mosaic"


def new_addresses(count: int) -> list[str]:
    """Distinct private IPv4 addresses, different on every run."""
    addresses: set[str] = set()
    while len(addresses) < count:
        a, b, c = uuid.uuid4().bytes[:3]
        addresses.add(f"10.{a}.{b}.{c}")
    return sorted(addresses)


def forwarded(address: str) -> dict[str, str]:
    """What a proxy in front adds to the websocket handshake."""
    return {"X-Forwarded-For": address}


def throttle_seconds(errors: object) -> int | None:
    """N when errors is exactly {"form": "Too many attempts, try again in N seconds."}, else None."""
    if not isinstance(errors, dict) or set(errors) != {FORM}:
        return None
    match = TOO_MANY.fullmatch(errors[FORM])
    if match is None:
        return None
    seconds = int(match.group(1))
    return seconds if errors[FORM] == too_many_attempts(seconds) else None


def settled_deltas(client: WireClient, start: int) -> list[dict[str, Any]]:
    """The SignupState deltas that end a submit (pending back to false), from message `start` on."""
    return [d for m in client.messages[start:] if settled(m) and (d := state_vars(m)) is not None]


async def connect_all(clients: Sequence[WireClient]) -> list[BaseException | None]:
    """Connect every client at once; each one's exception, or None."""
    return await asyncio.gather(*(client.connect() for client in clients), return_exceptions=True)


async def eventually(condition: Callable[[], bool], within_s: float) -> bool:
    """Poll a condition the server gives no signal of, until it holds or the time is up."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.25)
    return True


async def close_all(clients: Sequence[WireClient]) -> None:
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


def handshake_status(error: BaseException) -> int | None:
    """The HTTP status of a refused websocket handshake, from aiohttp's error under socketio's."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(status := getattr(cause, "status", None), int):
            return status
        cause = cause.__context__
    return None


def process_tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KB (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        pending += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


@dataclass
class RawSocket:
    """A websocket opened by hand, to see exactly what the server answers the handshake."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status_line: str
    headers: dict[str, str]
    body: bytes

    @property
    def status(self) -> int:
        return int(self.status_line.split()[1])

    @classmethod
    async def open(cls, server: Served, headers: dict[str, str] | None = None) -> RawSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.app.port)
        lines = [
            f"GET /_event/?EIO=4&transport=websocket&token={uuid.uuid4()} HTTP/1.1",
            f"Host: 127.0.0.1:{server.app.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
            "Sec-WebSocket-Version: 13",
            f"Origin: {server.url}",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        async with asyncio.timeout(WAIT_S):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            status_line, *header_lines = head.rstrip("\r\n").split("\r\n")
            parsed = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
            body = b""
            if status_line.split()[1] != "101" and "content-length" in parsed:
                body = await reader.readexactly(int(parsed["content-length"]))
        return cls(reader, writer, status_line, parsed, body)

    def send(self, payload: bytes, opcode: int = 1) -> None:
        """One masked frame, as a client must send it."""
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        whole = int.from_bytes(mask * (size // 4 + 1), "big") >> (8 * (4 - size % 4))
        masked = (int.from_bytes(payload, "big") ^ whole).to_bytes(size, "big") if size else b""
        self.writer.write(head + mask + masked)

    async def receive(self) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        async with asyncio.timeout(WAIT_S):
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return first & 0x0F, await self.reader.readexactly(size)

    def close(self) -> None:
        self.writer.close()


# --- 1. A flood from one address -------------------------------------------------------------------

FLOOD_TABS = PROXIED_MAX_CONNECTIONS  # every tab the cap lets one address open
FLOOD_PER_TAB = 50  # 1,000 submits in all
# The other address's signup (an Argon2 hash included) must not queue behind the flood.
BYSTANDER_ROUND_TRIP_LIMIT_MS = 5000


async def test_a_flood_from_one_address_is_throttled_while_another_address_signs_up(
    proxied: Served,
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


async def test_the_first_burst_after_a_start_respects_the_limit(cold: Served) -> None:
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


async def test_one_email_from_fifty_addresses_is_limited_per_email(proxied: Served) -> None:
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


async def _attempt(transport: str, served: Served, address: str, fields: dict[str, str]) -> tuple[int, dict]:
    """One signup attempt from an address (through the trusted proxy): the status and the errors.

    The websocket has no status: 201 stands for a welcome, 422 for errors, 429 for a throttle.
    """
    if transport == "websocket":
        client = WireClient(served.url, headers=forwarded(address))
        await client.connect()
        try:
            final = (await client.submit_and_settle(form(**fields)))[-1]
        finally:
            await client.close()
        if final.get("welcome_name"):
            return 201, {}
        return (429 if throttle_seconds(final["errors"]) else 422), final["errors"]
    async with httpx.AsyncClient(base_url=served.url, timeout=WAIT_S) as http:
        if transport == "json":
            response = await http.post("/api/signup", json=fields, headers=forwarded(address))
            return response.status_code, response.json().get("errors", {})
        headers = {
            **forwarded(address),
            "Origin": served.url,
            "Sec-Fetch-Site": "same-origin",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        response = await http.post("/signup", content=urlencode(fields), headers=headers)
        status = 201 if response.status_code == 303 else response.status_code
        return status, page_errors(response.text) if status != 201 else {}


@pytest.mark.parametrize("transport", ["websocket", "form", "json"])
async def test_an_attacker_cannot_lock_the_owner_out(proxied: Served, transport: str) -> None:
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


async def test_an_address_over_its_limit_gets_429_before_its_body_is_parsed(proxied: Served) -> None:
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


async def test_a_forged_forwarded_for_does_not_escape_the_address_limit(direct: Served) -> None:
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


# --- 3. The per-address websocket cap --------------------------------------------------------------

CAP_SOCKETS = 500
CAP_BATCH = 50


async def test_sockets_over_the_cap_are_refused_at_the_handshake(proxied: Served) -> None:
    """500 sockets from one address (no X-Forwarded-For: the peer 127.0.0.1 is the address)."""
    log = proxied.log_window()
    clients = [WireClient(proxied.url) for _ in range(CAP_SOCKETS)]
    outcomes: list[BaseException | None] = []
    for first in range(0, CAP_SOCKETS, CAP_BATCH):
        outcomes += await connect_all(clients[first : first + CAP_BATCH])
    connected = [c for c, o in zip(clients, outcomes, strict=True) if o is None]
    refused = [c for c, o in zip(clients, outcomes, strict=True) if o is not None]
    try:
        errors = {f"{type(o).__name__}: {o}" for o in outcomes if o is not None}
        assert len(connected) == PROXIED_MAX_CONNECTIONS, errors
        assert len(refused) == CAP_SOCKETS - PROXIED_MAX_CONNECTIONS
        assert all(isinstance(o, socketio.exceptions.ConnectionError) for o in outcomes if o is not None)
        # python-socketio says only "Connection error"; the handshake's status is in the chain.
        assert {handshake_status(o) for o in outcomes if o is not None} == {429}

        # On the wire: the handshake is answered 429 with the reason, never upgraded.
        raw = await RawSocket.open(proxied)
        raw.close()
        assert raw.status == 429, raw.status_line
        assert raw.body.decode() == TOO_MANY_CONNECTIONS
        assert raw.headers["content-type"] == "text/plain; charset=utf-8"

        # The accepted tabs are hydrated and stored; the refused ones left no state behind.
        assert all(state_file(proxied.states, c.token, ROOT_STATE).is_file() for c in connected)
        leftovers = [
            c.token
            for c in refused
            for name in (ROOT_STATE, SIGNUP_STATE)
            if state_file(proxied.states, c.token, name).exists()
        ]
        assert leftovers == []

        # HTTP is not websocket: the routes answer this address as usual while its cap is full.
        async with httpx.AsyncClient(base_url=proxied.url, timeout=WAIT_S) as http:
            assert (await http.get("/ping")).status_code == 200
            page = await http.get("/")
            assert page.status_code == 200 and "<form" in page.text
            created = await http.post(
                "/api/signup",
                json={"name": "Http User", "email": unique_email("capped"), "password": strong_password()},
            )
            assert created.status_code == 201, created.text

        # The 20 still work.
        await asyncio.gather(*(c.barrier() for c in connected))
    finally:
        await close_all(clients)

    # The server tells nothing when it has let go of a socket: retry until a slot is free.
    attempts, deadline = 0, time.monotonic() + WAIT_S
    while True:
        attempts += 1
        again = WireClient(proxied.url)
        try:
            await again.connect()
            break
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        finally:
            await again.close()
    refusals = log.text().count(f"refused a websocket: 127.0.0.1 already holds {PROXIED_MAX_CONNECTIONS}")
    print(
        f"\ncap: {len(connected)} connected, {len(refused)} refused ({sorted(errors)}), raw handshake: "
        f"{raw.status_line!r} {raw.body.decode()!r}; after closing, connected again on attempt {attempts}"
    )
    assert refusals == len(refused) + 1 + (attempts - 1)


# --- 4. Handlers a client may not call -------------------------------------------------------------


def _forged_value(var: str, marker: str) -> object:
    known: dict[str, object] = {
        "welcome_name": "Mallory",
        "errors": {"email": f"forged {marker}"},
        "pending": True,
        "rejections": 99,
        "is_hydrated": False,
        "rx_router_session": {"client_token": str(uuid.uuid4()), "client_ip": "203.0.113.9"},
        "rx_router_headers": {"x_forwarded_for": "203.0.113.9"},
    }
    return known.get(var, {"forged": marker})


def _refused_calls(marker: str) -> list[tuple[str, dict[str, Any]]]:
    """A call of every refused handler: setvar of every var of its state, the others with payloads."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for name in sorted(refused_handlers()):
        state_name, _, handler = name.rpartition(".")
        path = tuple(state_name.split(".")[1:])
        state = State.get_class_substate(path) if path else State
        assert state.get_full_name() == state_name
        if handler == "setvar":
            calls += [(name, {"var_name": v, "value": _forged_value(v, marker)}) for v in sorted(state.vars)]
        elif handler == "update_vars_internal":
            forged = {f"{SIGNUP_STATE}.welcome_name": "Mallory", f"{ROOT_STATE}.is_hydrated": False}
            calls.append((name, {"vars": forged}))
        elif handler == "handle_frontend_exception":
            calls.append((name, {"info": f"Error: forged\nFORGED-{marker}", "component_stack": "x"}))
        else:
            pytest.fail(f"no forged call for {name}: add one")
    return calls


def _compact(text: str) -> str:
    return "".join(text.split())


def _without_router(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deltas without the router vars, which differ between two connections of one tab."""
    return [
        {
            state: {var: value for var, value in changes.items() if "router" not in var}
            for state, changes in (message.get("delta") or {}).items()
        }
        for message in messages
    ]


async def _hydrate_of(tab: WireClient) -> list[dict[str, Any]]:
    start = len(tab.messages)
    await tab.barrier()
    return _without_router(tab.messages[start:])


async def test_refused_and_unknown_handlers_change_nothing(proxied: Served) -> None:
    """Each forged call closes its socket unanswered; the tab, reopened, is as it was."""
    marker = uuid.uuid4().hex
    address = new_addresses(1)[0]
    first = WireClient(proxied.url, headers=forwarded(address))
    await first.connect()
    try:
        # What a re-hydrate of this untouched tab looks like (its page-load key already issued).
        baseline = await _hydrate_of(first)
    finally:
        await first.close()

    calls = _refused_calls(marker)
    unknown = [
        (f"{SIGNUP_STATE}.no_such_handler", {"form_data": {"name": "x"}}),
        ("no_such_state.no_such_handler", {}),
        (f"{SIGNUP_STATE}.submit\nFORGED-{marker} INFO account created id=1", {"form_data": {}}),
        (f"\nFORGED-{marker}", {}),
    ]
    log = proxied.log_window()
    for name, payload in calls + unknown:
        # The same tab (its token) each time, as a script replaying it would.
        tab = WireClient(proxied.url, token=first.token, headers=forwarded(address))
        await tab.connect()
        try:
            start = len(tab.messages)
            await tab.emit(name, payload)
            if name == FRONTEND_EXCEPTION:
                # The page's own script-error report: dropped, the socket stays open.
                assert await _hydrate_of(tab) == baseline
                assert tab.connected
            else:
                await tab.wait_closed()
                assert tab.messages[start:] == [], name
        finally:
            await tab.close()

    again = WireClient(proxied.url, token=first.token, headers=forwarded(address))
    await again.connect()
    try:
        # Nothing answered the forged calls; the new hydrate shows the state as it was at first.
        assert await _hydrate_of(again) == baseline
        # The tab behaves as a fresh one: not pending, no welcome, no earlier rejections.
        deltas = await again.submit_and_settle(form(name="", email="not-an-email", password="short"))
    finally:
        await again.close()

    assert deltas[0] == {"pending": True}, deltas
    final = deltas[-1]
    assert set(final["errors"]) == {"name", "email", "password"}, final
    assert final["rejections"] == 1
    assert all("welcome_name" not in d for d in deltas)

    # One fixed line per closed socket; nothing the client sent, no traceback.
    text = log.text()
    compact = log.compact()  # the console wraps long lines at 80 columns
    closed = len(calls) - 1 + len(unknown)
    assert compact.count(_compact(f"hostile event: {REFUSED_HANDLER}")) == len(calls) - 1
    assert compact.count(_compact(f"hostile event: {UNKNOWN_HANDLER}")) == len(unknown)
    assert compact.count("closedawebsocketfrom") == closed
    assert "Mallory" not in text and marker not in compact and "FORGED" not in text
    assert "Traceback" not in text and "Error processing event" not in text
    sent = sum(len(name) + len(json.dumps(payload)) for name, payload in calls + unknown)
    print(
        f"\nrefused and unknown handlers: {closed} sockets closed ({sent} bytes of name and payload) "
        f"wrote {len(text.encode())} bytes of log"
    )


# --- 5. An oversized frame -------------------------------------------------------------------------


async def test_an_oversized_frame_closes_the_connection_and_leaves_no_trace(proxied: Served) -> None:
    log = proxied.log_window()
    sentinel = f"SENTINEL{uuid.uuid4().hex}"
    password = (sentinel + " ") * (900_000 // (len(sentinel) + 1))
    email = unique_email("oversized")
    big, other = (WireClient(proxied.url, headers=forwarded(a)) for a in new_addresses(2))
    await connect_all([big, other])
    try:
        start = len(big.messages)
        await big.submit(form(name="Big Frame", email=email, password=password))
        await big.wait_closed()
        assert not big.connected
        assert big.messages[start:] == []

        deltas = await other.submit_and_settle(
            form(name="Still Working", email=unique_email("after-big"), password=strong_password())
        )
        assert deltas[-1].get("welcome_name") == "Still Working", deltas

        # What the server does with such a frame, seen on a socket opened by hand.
        raw = await RawSocket.open(proxied, forwarded(new_addresses(1)[0]))
        assert raw.status == 101, raw.status_line
        opcode, opened = await raw.receive()
        assert (opcode, opened[:1]) == (1, b"0"), opened  # engine.io OPEN
        raw.send(b"4" + password.encode())
        opcode, payload = await raw.receive()
        raw.close()
    finally:
        await close_all([big, other])

    assert opcode == 8, (opcode, payload[:100])  # the server closes the websocket
    close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
    print(f"\noversized frame: {len(password):,} chars; the server's close frame: code {close_code}")
    assert proxied.accounts.with_email(email) == []
    assert sentinel not in proxied.app.log_text()
    assert sentinel not in log.compact()


FRAME_LIMIT = 64 * 1024  # rxconfig's REFLEX_SOCKET_MAX_HTTP_BUFFER_SIZE default


async def test_the_frame_limit_is_64_kb(proxied: Served) -> None:
    """Just under the limit the submit is answered (the password is too long); just over, the socket closes."""
    under, over = (WireClient(proxied.url, headers=forwarded(a)) for a in new_addresses(2))
    await connect_all([under, over])
    try:
        email = unique_email("limit")
        deltas = await under.submit_and_settle(
            form(name="Under", email=email, password="p" * (FRAME_LIMIT - 1024))
        )
        assert deltas[-1]["errors"] == {"password": "Password must be at most 128 characters."}, deltas
        assert under.connected

        start = len(over.messages)
        await over.submit(form(name="Over", email=email, password="p" * (FRAME_LIMIT + 1024)))
        await over.wait_closed()
        assert over.messages[start:] == []
    finally:
        await close_all([under, over])


# --- 6. Abandoned tabs -----------------------------------------------------------------------------

CYCLES = 1000
CYCLE_CONCURRENCY = 10
STATE_FILES_AFTER_EXPIRY = 10
RSS_GROWTH_LIMIT_KB = 50 * 1024


async def test_abandoned_tabs_expire(direct: Served) -> None:
    """1,000 tabs connect, hydrate and go; their state is dropped after REFLEX_REDIS_TOKEN_EXPIRATION."""
    pid = direct.app.process.pid
    # One tab first, so that lazily loaded code is not counted as growth.
    warm = WireClient(direct.url)
    await warm.connect()
    await warm.close()
    rss_before = process_tree_rss_kb(pid)
    files_before = len(direct.state_files())

    limit = asyncio.Semaphore(CYCLE_CONCURRENCY)
    peak_files = 0
    done = 0

    async def cycle() -> None:
        nonlocal peak_files, done
        async with limit:
            tab = WireClient(direct.url)
            await tab.connect()
            await tab.close()
            done += 1
            if done % 50 == 0:
                peak_files = max(peak_files, len(direct.state_files()))

    started = time.monotonic()
    await asyncio.gather(*(cycle() for _ in range(CYCLES)))
    cycles_s = time.monotonic() - started
    peak_files = max(peak_files, len(direct.state_files()))
    rss_after_cycles = process_tree_rss_kb(pid)

    # Nothing signals an expiry: poll the folder until the state files are gone.
    await eventually(lambda: len(direct.state_files()) <= STATE_FILES_AFTER_EXPIRY, within_s=60)
    expired_in_s = time.monotonic() - started - cycles_s
    files_after = len(direct.state_files())
    rss_after_expiry = process_tree_rss_kb(pid)

    print(
        f"\nabandoned tabs: {CYCLES} cycles in {cycles_s:.1f} s; state files {files_before} before, "
        f"peak {peak_files}, {files_after} after {expired_in_s:.1f} s; server tree RSS "
        f"{rss_before / 1024:.1f} MB before, {rss_after_cycles / 1024:.1f} MB after the cycles "
        f"({(rss_after_cycles - rss_before) / CYCLES:.1f} KB per cycle), "
        f"{rss_after_expiry / 1024:.1f} MB after expiry "
        f"({(rss_after_expiry - rss_before) / CYCLES:.1f} KB per cycle)"
    )
    assert peak_files > STATE_FILES_AFTER_EXPIRY, "the cycles left state to expire"
    assert files_after <= STATE_FILES_AFTER_EXPIRY
    assert rss_after_expiry - rss_before < RSS_GROWTH_LIMIT_KB
