"""Password hashing: the one place that knows the algorithm and its cost."""

from __future__ import annotations

import os
import sys
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import VerificationError

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


def _lower_priority() -> None:
    if sys.platform == "linux":  # Linux alone gives each thread its own nice value
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)
        except OSError:
            pass


def _new_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="argon2", initializer=_lower_priority)


_pool = _new_pool()


def _replace_pool_after_fork() -> None:
    # A forked worker inherits the pool object but none of its threads.
    global _pool
    _pool = _new_pool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_replace_pool_after_fork)


def normalize_password(password: str) -> str:
    """NFKC, so the same password typed on any keyboard hashes the same."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """Hash a normalised password; CPU-bound (~25 ms) and blocking, so call it off the event loop."""
    return _pool.submit(_hasher.hash, password).result()


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash."""
    try:
        return _pool.submit(_hasher.verify, password_hash, normalize_password(password)).result()
    except VerificationError:
        return False
