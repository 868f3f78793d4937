"""Password hashing and verification, and the bound on hashes at once."""

from __future__ import annotations

import contextvars
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest

from signup_app.accounts import passwords
from signup_app.accounts.passwords import HashingBusyError, hash_password, normalize_password, verify_password
from tests.harness.services import wait_until


def test_hashes_are_salted() -> None:
    assert hash_password("copper kettle rain ladder") != hash_password("copper kettle rain ladder")


def test_verify_normalises_like_signup() -> None:
    # The stored hash is of the NFKC form; the same password typed decomposed still verifies.
    stored = hash_password(normalize_password("caf\u00e9 au lait, s'il vous pla\u00eet"))
    assert verify_password(stored, "cafe\u0301 au lait, s'il vous plai\u0302t")
    assert not verify_password(stored, "cafe au lait, s'il vous plait")


def test_hashes_run_on_one_low_priority_thread_per_core() -> None:
    # More hashes at once than cores only thrash the caches; the event loop must win a core from them.
    seen: dict[str, int] = {}
    real_hasher = passwords._hasher

    class RecordingHasher:
        def hash(self, password: str) -> str:
            seen[threading.current_thread().name] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            return real_hasher.hash(password)

    with mock.patch.object(passwords, "_hasher", RecordingHasher()), ThreadPoolExecutor(8) as callers:
        hashes = list(callers.map(hash_password, [f"copper kettle rain {i}" for i in range(16)]))

    assert len(set(hashes)) == 16
    assert 1 <= len(seen) <= passwords.HASH_THREADS
    assert all(name.startswith("argon2") for name in seen)
    if sys.platform == "linux":
        assert set(seen.values()) == {os.getpriority(os.PRIO_PROCESS, 0) + passwords.HASH_THREAD_NICE}


# --- Overload: a bounded number of hashes running or waiting ------------------------------------------

WAIT_S = 10


class BlockedHasher:
    """Hashes only once released: fills the pool deterministically."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = 0
        self.calls = 0
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        with self._lock:
            self.calls += 1
            self.running += 1
        assert self.release.wait(WAIT_S)
        return f"hash of {password}"

    def verify(self, _hash: str, _password: str) -> bool:
        return self.hash(_password) is not None


@pytest.fixture
def blocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[BlockedHasher]:
    hasher = BlockedHasher()
    monkeypatch.setattr(passwords, "_hasher", hasher)
    try:
        yield hasher
    finally:
        hasher.release.set()
        wait_until(lambda: passwords.hashes_in_flight() == 0, WAIT_S, "every place is given back")


def test_a_hash_beyond_the_bound_is_refused_at_once(
    blocked: BlockedHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNUP_MAX_WAITING_HASHES", "1")
    bound = passwords.HASH_THREADS + 1
    with ThreadPoolExecutor(bound + 2) as callers:
        admitted = [callers.submit(hash_password, f"copper kettle rain {i}") for i in range(bound)]
        # Every thread is hashing and one more hash waits for a thread.
        wait_until(lambda: blocked.running == passwords.HASH_THREADS, WAIT_S, "every hash thread is busy")
        wait_until(lambda: passwords.hashes_in_flight() == bound, WAIT_S, "the queue is full")

        # The next ones are refused without waiting: were they queued, the blocked pool would hold them.
        with pytest.raises(HashingBusyError):
            callers.submit(hash_password, "one too many").result(timeout=WAIT_S)
        with pytest.raises(HashingBusyError):  # verification shares the pool and its bound
            callers.submit(verify_password, "stored", "one too many").result(timeout=WAIT_S)
        assert blocked.calls == passwords.HASH_THREADS

        blocked.release.set()
        assert sorted(f.result(timeout=WAIT_S) for f in admitted) == sorted(
            f"hash of copper kettle rain {i}" for i in range(bound)
        )
    assert passwords.hashes_in_flight() == 0
    assert hash_password("room again") == "hash of room again"


def test_a_place_taken_before_the_hop_covers_the_hashes_under_it(
    blocked: BlockedHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNUP_MAX_WAITING_HASHES", "0")
    blocked.release.set()
    places = [passwords.reserve_hash_place() for _ in range(passwords.HASH_THREADS)]
    try:
        with pytest.raises(HashingBusyError):
            passwords.reserve_hash_place()
        with pytest.raises(HashingBusyError):
            hash_password("no place left")
        with ThreadPoolExecutor(1) as thread, places[0].held():
            # The context is copied into the thread it hops to, as asyncio's and anyio's pools do.
            context = contextvars.copy_context()
            hashed = thread.submit(context.run, hash_password, "under its place").result(timeout=WAIT_S)
        assert hashed == "hash of under its place"
        assert passwords.hashes_in_flight() == passwords.HASH_THREADS - 1  # held() gave its place back
        places[0].release()  # again: a no-op
        assert passwords.hashes_in_flight() == passwords.HASH_THREADS - 1
    finally:
        for place in places:
            place.release()
    assert passwords.hashes_in_flight() == 0


def test_the_default_bound_keeps_every_core_busy_plus_a_short_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNUP_MAX_WAITING_HASHES", raising=False)
    assert passwords.max_waiting_hashes() == 4 * passwords.HASH_THREADS
