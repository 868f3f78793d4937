"""What a client sees when a service the app needs (Redis, the database) is down."""

from __future__ import annotations

import logging

from limits.errors import StorageError
from redis.exceptions import RedisError
from reflex.app import default_backend_exception_handler
from reflex.event import EventSpec
from reflex_components_sonner.toast import toast
from sqlalchemy.exc import InterfaceError, OperationalError

from signup_app.accounts.registration import UNAVAILABLE, TemporarilyUnavailable

logger = logging.getLogger(__name__)

_OUTAGES = (RedisError, OperationalError, InterfaceError, StorageError, TemporarilyUnavailable)


def is_outage(exception: BaseException) -> bool:
    """Whether the exception, or one it was raised from, is a service being unreachable."""
    seen: set[int] = set()
    current: BaseException | None = exception
    while current is not None and id(current) not in seen:
        if isinstance(current, _OUTAGES):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def backend_exception_handler(exception: Exception) -> EventSpec:
    """Reflex's handler for an event that failed outside the action (e.g. Redis holding the state).

    An outage gets a clear "temporarily unavailable" notice; anything else Reflex's default.
    """
    if is_outage(exception):
        logger.warning("event failed, a service is unavailable: %s", type(exception).__name__)
        return toast(
            UNAVAILABLE, level="error", fallback_to_alert=True, id="unavailable", position="top-center"
        )
    return default_backend_exception_handler(exception)
