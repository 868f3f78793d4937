"""Servers with low abuse limits of their own, and the tools to attack them (tests/wire/abuse).

Answers are awaited as frames; only what the server gives no sign of (freed slots, expiry) is polled.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import struct
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from signup_app.accounts.rate_limits import too_many_attempts
from signup_app.accounts.validation import FORM
from tests.harness import procfs
from tests.harness.client import WAIT_S, WireClient, settled, state_vars
from tests.harness.server import AppServer, start_app_server
from tests.harness.services import sqlite_database
from tests.harness.wire import Accounts, LogWindow

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


@dataclass
class LimitedServer:
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
def serving(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str]
) -> Iterator[LimitedServer]:
    """A production server of its own, on a fresh migrated SQLite, with env on top of the usual."""
    folder = tmp_path_factory.mktemp(name)
    url = sqlite_database(folder)
    with pytest.MonkeyPatch.context() as patch:
        # In-memory limits and disk state, whatever the developer's shell says.
        for variable in ("REFLEX_REDIS_URL", "SIGNUP_TRUSTED_PROXIES"):
            patch.delenv(variable, raising=False)
        # Bursts here are about limits, not overload: no signup is shed as busy.
        env = {"SIGNUP_MAX_WAITING_HASHES": "100000", **env}
        server = start_app_server(url, folder / "server.log", extra_env=env)
    try:
        with Accounts.of(url) as accounts:
            yield LimitedServer(server, accounts, folder / ".states")
    finally:
        server.stop()


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
    """Resident memory of a process and all its descendants, in KB."""
    return procfs.rss_bytes(procfs.process_tree(pid)) // 1024


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
    async def open(cls, server: LimitedServer, headers: dict[str, str] | None = None) -> RawSocket:
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
