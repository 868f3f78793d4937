"""Password hashing parameters and verification."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

from argon2 import extract_parameters
from argon2.low_level import Type

from signup_app.accounts import passwords
from signup_app.accounts.passwords import hash_password, normalize_password, verify_password


def test_hash_is_argon2id_at_least_owasp_baseline() -> None:
    params = extract_parameters(hash_password("copper kettle rain ladder"))
    assert params.type is Type.ID
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert params.parallelism == 1


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
