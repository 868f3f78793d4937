"""Password hashing: the one place that knows the algorithm and its cost."""

from __future__ import annotations

import unicodedata

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


def normalize_password(password: str) -> str:
    """NFKC, so the same password typed on any keyboard hashes the same."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """Hash a normalised password; CPU-bound (~20 ms), so call it off the event loop."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash."""
    try:
        return _hasher.verify(password_hash, normalize_password(password))
    except VerificationError:
        return False
