"""Signup and sign-in attempt limits per client address and per target email (the `limits` library).

Attempts at one email count per (email, client address), so that nobody can lock an
address's owner out from elsewhere; signups also have a higher ceiling per email from
all addresses.

Counters live in memory, or in Redis when REFLEX_REDIS_URL is set so that every
worker shares them. Checks run before any hashing.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse, storage, strategies

from signup_app import settings
from signup_app.accounts.validation import email_key

# The address under which attempts made without one (no transport, e.g. scripts calling the
# action) count: together, as one client.
NO_ADDRESS = "-"


def limit_key(address: str, ipv6_prefix: int | None = None) -> str:
    """The key under which rate limits and the connection cap count a client address.

    An IPv6 client usually holds a whole /64 (ipv6_prefix, by default the settings'
    SIGNUP_IPV6_PREFIX), so its addresses count together; an IPv4 address counts alone.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        prefix = settings.load().ipv6_prefix if ipv6_prefix is None else ipv6_prefix
        return str(ipaddress.IPv6Network((ip, prefix), strict=False))
    return str(ip)


def too_many_attempts(retry_after_s: int) -> str:
    """The message for a refused attempt."""
    return f"Too many attempts, try again in {retry_after_s} seconds."


@dataclass(frozen=True)
class AttemptLimiter:
    """Moving-window limits on one action's attempts (``scope``: "signup" or "signin")."""

    limiter: strategies.RateLimiter
    per_address: RateLimitItem
    per_email: RateLimitItem
    # None: no ceiling across addresses (sign-in: it would let anyone lock the owner out).
    per_email_global: RateLimitItem | None
    ipv6_prefix: int = 64
    scope: str = "signup"

    def _wait(self, item: RateLimitItem, *keys: str) -> int:
        reset_at = self.limiter.get_window_stats(item, self.scope, *keys).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def _hit(self, item: RateLimitItem, *keys: str) -> int | None:
        """Count one attempt; the seconds to wait if it is over the limit, else None."""
        if self.limiter.hit(item, self.scope, *keys):
            return None
        return self._wait(item, *keys)

    def hit_address(self, address: str) -> int | None:
        """Count an attempt from a client address."""
        return self._hit(self.per_address, "address", limit_key(address, self.ipv6_prefix))

    def address_wait(self, address: str) -> int | None:
        """The seconds to wait if the address is over its limit, else None; counts nothing."""
        key = limit_key(address, self.ipv6_prefix)
        if self.limiter.test(self.per_address, self.scope, "address", key):
            return None
        return self._wait(self.per_address, "address", key)

    def hit_email(self, email: str, address: str | None) -> int | None:
        """Count an attempt at a (normalised) email from a client address (None: none known).

        The per-(email, address) limit is checked first: an address over it uses up none of
        the email's global ceiling.
        """
        key = email_key(email)
        address_key = NO_ADDRESS if address is None else limit_key(address, self.ipv6_prefix)
        if (wait := self._hit(self.per_email, "email-address", key, address_key)) is not None:
            return wait
        return None if self.per_email_global is None else self._hit(self.per_email_global, "email", key)


_limiters: dict[tuple[str, ...], AttemptLimiter] = {}
# Actions run in threads: the first ones after a start must share one limiter
# (and one count), not each build their own.
_limiters_lock = threading.Lock()


# Each action's settings: per address, per (email, address), and per email from all addresses.
_SETTINGS = {
    "signup": ("rate_limit_per_address", "rate_limit_per_email", "rate_limit_per_email_global"),
    "signin": ("signin_rate_limit_per_address", "signin_rate_limit_per_account", None),
}


def _attempt_limiter(scope: str, config: settings.Settings | None) -> AttemptLimiter:
    config = config or settings.load()
    items = tuple(getattr(config, name) if name else None for name in _SETTINGS[scope])
    key = (scope, config.redis_url or "memory://", *(item or "" for item in items), str(config.ipv6_prefix))
    if (limiter := _limiters.get(key)) is not None:
        return limiter
    with _limiters_lock:
        if (limiter := _limiters.get(key)) is None:
            per_address, per_email, per_email_global = items
            limiter = AttemptLimiter(
                strategies.MovingWindowRateLimiter(storage.storage_from_string(key[1])),
                parse(per_address),  # type: ignore[arg-type]
                parse(per_email),  # type: ignore[arg-type]
                parse(per_email_global) if per_email_global else None,
                config.ipv6_prefix,
                scope,
            )
            _limiters[key] = limiter
        return limiter


def signup_limiter(config: settings.Settings | None = None) -> AttemptLimiter:
    """The signup limiter for config, by default the loaded settings (one per process and configuration)."""
    return _attempt_limiter("signup", config)


def signin_limiter(config: settings.Settings | None = None) -> AttemptLimiter:
    """The sign-in limiter: per address, and per (account email, address) with no global ceiling."""
    return _attempt_limiter("signin", config)
