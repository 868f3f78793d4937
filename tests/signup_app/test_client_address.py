"""The client address: the socket's peer unless a trusted proxy forwarded the request."""

from __future__ import annotations

import pytest

from signup_app.client_address import client_address


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        ("", "203.0.113.9", None, "203.0.113.9"),
        ("", "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # untrusted peer: header ignored
        ("127.0.0.1", "127.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # left entries are the client's
        ("127.0.0.1,10.0.0.0/8", "127.0.0.1", "198.51.100.1, 10.1.2.3", "198.51.100.1"),  # proxy chain
        ("127.0.0.1", "127.0.0.1", "garbage", "garbage"),
        ("127.0.0.1", "127.0.0.1", None, "127.0.0.1"),
        ("", None, None, "unknown"),
    ],
)
def test_client_address(
    monkeypatch: pytest.MonkeyPatch, trusted: str, peer: str | None, forwarded: str | None, expected: str
) -> None:
    monkeypatch.setenv("SIGNUP_TRUSTED_PROXIES", trusted)
    assert client_address(peer, forwarded) == expected
