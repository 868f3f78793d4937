"""The HTTP routes in-process (their middleware chain, no server), under the server fixtures' names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.harness.client import WAIT_S
from tests.harness.wire import Accounts, InProcessApp, http_app


@pytest.fixture
def app_server(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> InProcessApp:
    """The app in-process, in production mode (as `reflex run --env prod`), on its own SQLite database."""
    monkeypatch.setenv("REFLEX_ENV_MODE", "prod")
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_url)
    monkeypatch.delenv("SIGNUP_TRUSTED_PROXIES", raising=False)  # the test client's address is a client's
    return InProcessApp(db_url=sqlite_url)


@pytest.fixture
def accounts(app_server: InProcessApp) -> Iterator[Accounts]:
    """The accounts table of the app's database."""
    with Accounts.of(app_server.db_url) as accounts:
        yield accounts


@pytest.fixture
async def http(app_server: InProcessApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app; it follows no redirects and sends no Origin unless told."""
    transport = httpx.ASGITransport(app=http_app())
    async with httpx.AsyncClient(transport=transport, base_url=app_server.url, timeout=WAIT_S) as client:
        yield client
