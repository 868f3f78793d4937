"""The abuse tests' servers, started once for the package: `proxied`, `direct` and `cold`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.harness.abuse import (
    DIRECT_PER_ADDRESS,
    DIRECT_TOKEN_EXPIRATION_S,
    PROXIED_MAX_CONNECTIONS,
    PROXIED_PER_ADDRESS,
    PROXIED_PER_EMAIL,
    PROXIED_PER_EMAIL_GLOBAL,
    LimitedServer,
    forwarded,
    serving,
)
from tests.harness.client import WAIT_S


@pytest.fixture(scope="package")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LimitedServer]:
    """Behind a trusted proxy at 127.0.0.1: limits per X-Forwarded-For address, a cap of 20 sockets and
    one further origin listed. One attempt is made first, so that the tests see a server in its steady
    state (the first attempts after a start are test_the_first_burst_after_a_start_...'s subject)."""
    with serving(
        tmp_path_factory,
        "proxied",
        {
            "SIGNUP_TRUSTED_PROXIES": "127.0.0.1",
            "SIGNUP_RATE_LIMIT_PER_ADDRESS": f"{PROXIED_PER_ADDRESS}/minute",
            "SIGNUP_RATE_LIMIT_PER_EMAIL": f"{PROXIED_PER_EMAIL}/minute",
            "SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL": f"{PROXIED_PER_EMAIL_GLOBAL}/minute",
            "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": str(PROXIED_MAX_CONNECTIONS),
            "REFLEX_CORS_ALLOWED_ORIGINS": "https://partner.example",
        },
    ) as served:
        warm_up = httpx.post(
            f"{served.url}/api/signup", json={"name": ""}, headers=forwarded("192.0.2.1"), timeout=WAIT_S
        )
        assert warm_up.status_code == 422, warm_up.text
        yield served


@pytest.fixture(scope="package")
def cold(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LimitedServer]:
    """A server that has seen no signup attempt yet, allowing one attempt per address a minute."""
    env = {
        "SIGNUP_RATE_LIMIT_PER_ADDRESS": "1/minute",
        "SIGNUP_RATE_LIMIT_PER_EMAIL": "100000/minute",
        "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "100",
    }
    with serving(tmp_path_factory, "cold", env) as served:
        yield served


@pytest.fixture(scope="package")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LimitedServer]:
    """No trusted proxy, a low per-address limit, and tab state expiring after 2 s."""
    env = {
        "SIGNUP_RATE_LIMIT_PER_ADDRESS": f"{DIRECT_PER_ADDRESS}/minute",
        "SIGNUP_RATE_LIMIT_PER_EMAIL": "100000/minute",
        "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "200",
        "REFLEX_REDIS_TOKEN_EXPIRATION": str(DIRECT_TOKEN_EXPIRATION_S),
    }
    with serving(tmp_path_factory, "direct", env) as served:
        yield served
