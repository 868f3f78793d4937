"""Fixtures of the in-process transport tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signup_app.accounts import passwords


@pytest.fixture
def every_hash_place_held(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The server at its bound: every hash thread busy and no room to wait (rate limits in memory)."""
    monkeypatch.setenv("SIGNUP_MAX_WAITING_HASHES", "0")
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    places = [passwords.reserve_hash_place() for _ in range(passwords.HASH_THREADS)]
    yield
    for place in places:
        place.release()
