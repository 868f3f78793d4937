"""The machine's services (PostgreSQL, Redis): skip on a laptop without them, fail in CI."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.databases import POSTGRES_ADMIN_URL, DatabaseUnavailableError, throwaway_postgres

# Tests that are not about rate limits must not trip them (they sign up one email many times),
# nor the bound on waiting hashes (they sign up many at once).
UNLIMITED = {
    "SIGNUP_RATE_LIMIT_PER_EMAIL": "100000/minute",
    "SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL": "100000/minute",
    "SIGNUP_RATE_LIMIT_PER_ADDRESS": "100000/minute",
    "SIGNUP_MAX_WAITING_HASHES": "100000",
}


def services_required() -> bool:
    """CI sets SIGNUP_REQUIRE_SERVICES=1: a missing PostgreSQL or Redis is then a failure."""
    return os.environ.get("SIGNUP_REQUIRE_SERVICES") == "1"


def unavailable(what: str, error: Exception) -> None:
    """Skip on a laptop without the service; fail in CI."""
    message = f"{what} is not reachable ({error}); CI requires it"
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def throwaway_database(admin_url: str = POSTGRES_ADMIN_URL, **options: Any) -> Iterator[str]:
    """databases.throwaway_postgres (same options), unavailable() when the server does not answer."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(throwaway_postgres(admin_url, **options))
        except DatabaseUnavailableError as exc:
            unavailable("PostgreSQL", exc)
        yield url
