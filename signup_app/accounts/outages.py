"""Which failures mean a service the app needs (the database, Redis) cannot be reached."""

from __future__ import annotations

from limits.errors import StorageError
from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError

# Other database errors (a bad query, a drifted schema) are bugs, not outages.
OUTAGES: tuple[type[BaseException], ...] = (RedisError, StorageError, OperationalError, InterfaceError)


def is_outage(exception: BaseException) -> bool:
    """Whether the exception, or one it was raised from, is a service being unreachable."""
    seen: set[int] = set()
    current: BaseException | None = exception
    while current is not None and id(current) not in seen:
        if isinstance(current, OUTAGES):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
