"""Fixtures for the deployment tests: a shared deployment, one of a test's own, and browser tabs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.harness.deploy import ClientFactory, DeployClient, Deployment, deployment_of
from tests.harness.services import redis_server, throwaway_database


def _new_deployment(folder: Path) -> Iterator[Deployment]:
    with (
        throwaway_database(prefix="signup_deploy") as url,
        redis_server(folder) as redis_srv,
        deployment_of(folder, url, redis_srv) as running,
    ):
        yield running


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One deployment shared by the tests that do not break it (one of them restarts it)."""
    yield from _new_deployment(tmp_path_factory.mktemp("deployment"))


@pytest.fixture
def own_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A deployment for one test, which may stop its database, its Redis or its workers."""
    yield from _new_deployment(tmp_path_factory.mktemp("own_deployment"))


@pytest.fixture
async def open_clients() -> AsyncIterator[ClientFactory]:
    """Opens hydrated tabs, concurrently: open_clients(url, n) or open_clients(url, tokens=[...])."""
    opened: list[DeployClient] = []

    async def open_many(url: str, count: int = 1, tokens: list[str] | None = None) -> list[DeployClient]:
        if tokens is None:
            clients = [DeployClient(url) for _ in range(count)]
        else:
            clients = [DeployClient(url, token=token) for token in tokens]
        opened.extend(clients)
        await asyncio.gather(*(client.connect() for client in clients))
        return clients

    try:
        yield open_many
    finally:
        await asyncio.gather(*(client.close() for client in opened), return_exceptions=True)
