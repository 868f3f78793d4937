"""Password hashing: the one place that knows the algorithm and its cost."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import secrets
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import VerificationError

from signup_app import settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

# argon2id at the OWASP baseline: 19 MiB, 2 passes, 1 lane.
MEMORY_COST_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)


# Hashes run on their own threads, one per usable core: more hashes at once than cores only
# evict each other's 19 MiB working sets from the caches, costing CPU without adding throughput.
# On Linux those threads run at a lower priority (nice +10), so the event loop and other requests
# get a core as soon as they need one while signups keep every core busy.
HASH_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
HASH_THREAD_NICE = 10


# Overload is shed, not queued: at most this many hashes wait for a thread beyond the ones running.
# Four per core is about 100 ms of queue (a hash takes ~23 ms of CPU), enough to keep every core
# busy between arrivals; a signup beyond it is told "busy" at once instead of waiting its turn.
DEFAULT_MAX_WAITING_HASHES = 4 * HASH_THREADS
# How often the start of shedding is logged (a flood must not become a flood of log lines).
_BUSY_LOG_INTERVAL_S = 60.0


def max_waiting_hashes(config: settings.Settings | None = None) -> int:
    """The bound on hashes waiting for a thread: SIGNUP_MAX_WAITING_HASHES, or 4 per core.

    Args:
        config: The settings to read; None: the loaded ones.
    """
    configured = (config or settings.load()).max_waiting_hashes
    return DEFAULT_MAX_WAITING_HASHES if configured is None else configured


class HashingBusyError(Exception):
    """More hashes are waiting than max_waiting_hashes(): nothing was hashed; try again shortly."""


class _Admission:
    """Counts the hashes running or waiting, thread-safely, and refuses one beyond the bound."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self._last_busy_log = -_BUSY_LOG_INTERVAL_S

    def enter(self) -> None:
        bound = HASH_THREADS + max_waiting_hashes()
        with self._lock:
            if self.in_flight >= bound:
                now = time.monotonic()
                log = now - self._last_busy_log >= _BUSY_LOG_INTERVAL_S
                if log:
                    self._last_busy_log = now
            else:
                self.in_flight += 1
                return
        if log:
            logger.warning(
                "hashing busy: %d hashes running or waiting, further signups are refused until one ends"
                " (SIGNUP_MAX_WAITING_HASHES)",
                bound,
            )
        raise HashingBusyError

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


_admission = _Admission()
# Set while this context holds a place, so hashes run under it are not counted twice. A context is
# copied into the thread it hops to, so a place taken before the hop covers that thread's hashes.
_holding_place: contextvars.ContextVar[bool] = contextvars.ContextVar("holding_hash_place", default=False)


class HashPlace:
    """One place among the hashes running or waiting, from reserve_hash_place(); released once."""

    def __init__(self, admission: _Admission) -> None:
        self._admission = admission
        self._lock = threading.Lock()
        self._released = False

    def release(self) -> None:
        """Give the place back (again is a no-op)."""
        with self._lock:
            if self._released:
                return
            self._released = True
        self._admission.leave()

    @contextlib.contextmanager
    def held(self) -> Generator[None]:
        """Run the block under this place (hashes in it take no other), then release it."""
        token = _holding_place.set(True)
        try:
            yield
        finally:
            _holding_place.reset(token)
            self.release()


def reserve_hash_place() -> HashPlace:
    """Take a place among the hashes running or waiting; raise HashingBusyError at once when none is free.

    Take it before any queue that leads to the hash (a thread pool's backlog), so that the wait
    in those queues is bounded too, and release it when the work is done.
    """
    _admission.enter()
    return HashPlace(_admission)


def hashes_in_flight() -> int:
    """How many places are held now (hashing, waiting for a hash thread, or on their way to it)."""
    return _admission.in_flight


def _run_hash(fn: Callable[..., T], *args: str) -> T:
    if _holding_place.get():
        return _pool.submit(fn, *args).result()
    with reserve_hash_place().held():
        return _pool.submit(fn, *args).result()


def _lower_priority() -> None:
    if sys.platform == "linux":  # Linux alone gives each thread its own nice value
        with contextlib.suppress(OSError):  # not allowed here: hash at normal priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)


def _new_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="argon2", initializer=_lower_priority)


_pool = _new_pool()


def _replace_pool_after_fork() -> None:
    # A forked worker inherits the pool object but none of its threads, and none of the places.
    global _pool, _admission  # noqa: PLW0603  (module state a fork must renew)
    _pool = _new_pool()
    _admission = _Admission()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_replace_pool_after_fork)


def normalize_password(password: str) -> str:
    """NFKC, so the same password typed on any keyboard hashes the same."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """Hash a normalised password; CPU-bound (~25 ms) and blocking, so call it off the event loop.

    Raises HashingBusyError, before any work, when the bound of waiting hashes is reached.
    """
    return _run_hash(_hasher.hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash; raises HashingBusyError as hash_password does."""
    try:
        return _run_hash(_hasher.verify, password_hash, normalize_password(password))
    except VerificationError:
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than today's (sign-in upgrades it)."""
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def _dummy_hash() -> str:
    # Made once, with today's parameters, so checking against it costs what a real check does.
    return _hasher.hash(secrets.token_urlsafe(32))


def prepare_dummy_hash() -> None:
    """Make the dummy hash now (at start), so the first unknown email costs what later ones do."""
    _dummy_hash()


def verify_nothing(password: str) -> bool:
    """Pay for one verification against a hash no password matches; always False.

    Checked when no account has the address, so an unknown email costs what a wrong password does.
    """
    verify_password(_dummy_hash(), password)
    return False
