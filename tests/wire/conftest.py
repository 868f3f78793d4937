"""Fixtures for the wire tests: browser-like clients, the accounts table and the server's log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.client import WAIT_S, WireClient
from tests.harness.server import ROOT, AppServer
from tests.harness.wire import Accounts, ClientFactory, LogWindow


@pytest.fixture(scope="session")
def accounts(app_server: AppServer) -> Iterator[Accounts]:
    """The accounts table of the server's database."""
    with Accounts.of(app_server.db_url) as accounts:
        yield accounts


@pytest.fixture
def server_log(app_server: AppServer) -> LogWindow:
    """The server's log written during this test."""
    return LogWindow(app_server, len(app_server.log_text()))


@pytest.fixture(scope="session")
def states_dir(app_server: AppServer) -> Path:
    """Where the disk state manager writes: beside the log (tests/harness/server.py), else ROOT/.states."""
    beside_log = app_server.log_path.parent / ".states"
    return beside_log if beside_log.is_dir() else ROOT / ".states"


@pytest.fixture
async def connect(app_server: AppServer) -> AsyncIterator[ClientFactory]:
    """Opens hydrated browser-like clients (one token each); closes them after the test."""
    clients: list[WireClient] = []

    async def open_client() -> WireClient:
        client = WireClient(app_server.url)
        clients.append(client)
        await client.connect()
        return client

    try:
        yield open_client
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


@pytest.fixture
async def http(app_server: AppServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the server; it follows no redirects and sends no Origin unless told."""
    async with httpx.AsyncClient(base_url=app_server.url, timeout=WAIT_S) as client:
        yield client
