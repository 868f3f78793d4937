"""Signup attempt limits per client address and per target email (the `limits` library).

Counters live in memory, or in Redis when REFLEX_REDIS_URL is set so that every
worker shares them. Checks run before any hashing.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse, storage, strategies

from signup_app import config
from signup_app.client_address import limit_key


def too_many_attempts(retry_after_s: int) -> str:
    """The message for a refused attempt."""
    return f"Too many attempts, try again in {retry_after_s} seconds."


@dataclass(frozen=True)
class SignupLimiter:
    """Moving-window limits on signup attempts."""

    limiter: strategies.RateLimiter
    per_address: RateLimitItem
    per_email: RateLimitItem

    def _hit(self, item: RateLimitItem, kind: str, key: str) -> int | None:
        """Count one attempt; the seconds to wait if it is over the limit, else None."""
        if self.limiter.hit(item, "signup", kind, key):
            return None
        reset_at = self.limiter.get_window_stats(item, "signup", kind, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def hit_address(self, address: str) -> int | None:
        """Count an attempt from a client address."""
        return self._hit(self.per_address, "address", limit_key(address))

    def hit_email(self, email: str) -> int | None:
        """Count an attempt at a (normalised) email address, whatever its letter case."""
        return self._hit(self.per_email, "email", email.lower())


_limiters: dict[tuple[str, str, str], SignupLimiter] = {}
# Signups run in threads: the first ones after a start must share one limiter
# (and one count), not each build their own.
_limiters_lock = threading.Lock()


def signup_limiter() -> SignupLimiter:
    """The limiter for the current settings (one per process and configuration)."""
    key = (config.redis_url() or "memory://", config.rate_limit_per_address(), config.rate_limit_per_email())
    if (limiter := _limiters.get(key)) is not None:
        return limiter
    with _limiters_lock:
        if (limiter := _limiters.get(key)) is None:
            storage_uri, per_address, per_email = key
            backend = storage.storage_from_string(storage_uri)
            limiter = SignupLimiter(
                strategies.MovingWindowRateLimiter(backend), parse(per_address), parse(per_email)
            )
            _limiters[key] = limiter
        return limiter
