"""Fixtures for the deployment tests: a shared deployment, one of a test's own, and browser tabs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.harness.deploy import ClientFactory, DeployClient, Deployment, new_deployment


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One deployment shared by the tests that do not break it (one of them restarts it)."""
    with new_deployment(tmp_path_factory.mktemp("deployment")) as running:
        yield running


@pytest.fixture
def own_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A deployment for one test, which may stop its database, its Redis or its workers."""
    with new_deployment(tmp_path_factory.mktemp("own_deployment")) as running:
        yield running


@pytest.fixture
async def open_clients() -> AsyncIterator[ClientFactory]:
    """Opens hydrated tabs, concurrently: open_clients(url, n) or open_clients(url, tokens=[...])."""
    opened: list[DeployClient] = []

    async def open_many(url: str, count: int = 1, tokens: list[str] | None = None) -> list[DeployClient]:
        tokens = tokens or [str(uuid.uuid4()) for _ in range(count)]
        clients = [DeployClient(url, token=token) for token in tokens]
        opened.extend(clients)
        await asyncio.gather(*(client.connect() for client in clients))
        return clients

    try:
        yield open_many
    finally:
        await asyncio.gather(*(client.close() for client in opened), return_exceptions=True)
