"""How an action runs: off the event loop, under a place among the hashes, its outages classified.

Which failures mean a service the app needs (the database, Redis) cannot be reached is
decided here, and only here.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from limits.errors import StorageError
from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError

from signup_app.accounts.passwords import HashingBusyError, reserve_hash_place
from signup_app.accounts.rate_limits import AttemptLimiter, too_many_attempts
from signup_app.accounts.results import ActionResult, Throttled, Unavailable
from signup_app.accounts.validation import FORM

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Other database errors (a bad query, a drifted schema) are bugs, not outages.
OUTAGES: tuple[type[BaseException], ...] = (RedisError, StorageError, OperationalError, InterfaceError)

# Shown by every transport when the action fails for a reason that is not the user's.
SERVER_ERROR = "Something went wrong on our side. Please try again."
# Shown when the database or Redis cannot be reached; nothing was written.
UNAVAILABLE = "The service is temporarily unavailable, please try again."
# Shown when more actions are hashing or waiting to hash than the server takes at once.
BUSY = "The service is busy right now. Please try again in a few seconds."


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


def unavailable(what: str, exception: BaseException) -> Unavailable:
    """The result for an action that raised: an outage (retry in 5 s), or a bug (logged with its traceback).

    Args:
        what: The action's name, for the log line ("signup").
        exception: What it raised (call from the ``except`` block).
    """
    if is_outage(exception):
        logger.warning("%s unavailable: %s", what, type(exception).__name__)
        return Unavailable(UNAVAILABLE, retry_after=5)
    logger.error("%s failed", what, exc_info=exception)
    return Unavailable(SERVER_ERROR, retry_after=None)


def _busy() -> Unavailable:
    # Spread over a few seconds, so refused clients do not all come back at the same moment.
    # passwords.py logs when shedding starts; one line per refused action would flood the log.
    return Unavailable(BUSY, retry_after=random.randint(2, 5))  # noqa: S311


async def run_hashing(what: str, work: Callable[[], ActionResult[T]]) -> ActionResult[T]:
    """Run an action that hashes a password on a worker thread, and classify what it raises.

    A place among the hashes is taken before the hop, so overload is refused at once
    ("busy", costing no rate-limit hit) instead of queueing in the thread pool's backlog.

    Args:
        what: The action's name, for the log.
        work: The blocking action.
    """
    try:
        place = reserve_hash_place()
    except HashingBusyError:
        return _busy()
    started = False

    def run() -> ActionResult[T]:
        nonlocal started
        started = True
        with place.held():
            return work()

    try:
        return await anyio.to_thread.run_sync(run)
    except HashingBusyError:
        return _busy()
    except Exception as exc:  # noqa: BLE001  (every failure becomes a result the transports render)
        return unavailable(what, exc)
    finally:
        if not started:  # cancelled before a thread took it
            place.release()


async def admit_address(
    limiter: AttemptLimiter, client_address: str, what: str
) -> Throttled | Unavailable | None:
    """Refuse an address over its limit before its submission is read (Throttled), or admit it (None).

    Counts nothing: the action counts the attempt.
    """
    try:
        wait = await anyio.to_thread.run_sync(limiter.address_wait, client_address)
    except Exception as exc:
        if not is_outage(exc):
            raise
        return unavailable(what, exc)
    return None if wait is None else Throttled({FORM: too_many_attempts(wait)}, retry_after=wait)
