"""Password hashing parameters and verification."""

from __future__ import annotations

from argon2 import extract_parameters
from argon2.low_level import Type

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
