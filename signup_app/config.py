"""Settings read from the environment."""

from __future__ import annotations

import os

# The embedded development database; production sets REFLEX_DB_URL.
DEFAULT_DATABASE_URL = "sqlite:///signup.db"


def database_url() -> str:
    """The SQLAlchemy URL of the accounts database (Reflex reads the same variable)."""
    return os.environ.get("REFLEX_DB_URL") or DEFAULT_DATABASE_URL


def redis_url() -> str | None:
    """Redis for Reflex state and shared rate limits (REFLEX_REDIS_URL), if configured."""
    return os.environ.get("REFLEX_REDIS_URL") or None


def rate_limit_per_email() -> str:
    """Signup attempts allowed per target email from one client address, in `limits` notation."""
    return os.environ.get("SIGNUP_RATE_LIMIT_PER_EMAIL", "5/minute")


def rate_limit_per_email_global() -> str:
    """Signup attempts allowed per target email from all addresses together, in `limits` notation.

    Above what one address may send in an hour (SIGNUP_RATE_LIMIT_PER_ADDRESS, 30), so that
    no single address can use up an email's attempts and lock its owner out.
    """
    return os.environ.get("SIGNUP_RATE_LIMIT_PER_EMAIL_GLOBAL", "100/hour")


def rate_limit_per_address() -> str:
    """Signup attempts allowed per client address, in `limits` notation."""
    return os.environ.get("SIGNUP_RATE_LIMIT_PER_ADDRESS", "30/hour")


def trusted_proxies() -> tuple[str, ...]:
    """Peers (addresses or CIDR networks) whose X-Forwarded-For is believed."""
    raw = os.environ.get("SIGNUP_TRUSTED_PROXIES", "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def max_connections_per_address() -> int:
    """Simultaneous websocket connections allowed from one client address."""
    return int(os.environ.get("SIGNUP_MAX_CONNECTIONS_PER_ADDRESS", "20"))


def ipv6_prefix() -> int:
    """How many leading bits of an IPv6 client address the limits and the connection cap count by."""
    return int(os.environ.get("SIGNUP_IPV6_PREFIX", "64"))
