"""The client address: the socket's peer unless a trusted proxy forwarded the request."""

from __future__ import annotations

import pytest

from signup_app.accounts.rate_limits import limit_key
from signup_app.web.client_address import client_address, header_lines

PROXY = "127.0.0.1"
CHAIN = "127.0.0.1,10.0.0.0/8,2001:db8:ffff::/48"


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        # No proxy in front.
        ("", "203.0.113.9", None, "203.0.113.9"),
        ("", "203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.0/8", "203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        ("", None, None, "unknown"),
        # One trusted proxy, one line.
        (PROXY, PROXY, ["198.51.100.1"], "198.51.100.1"),
        (PROXY, PROXY, None, PROXY),
        (PROXY, PROXY, [], PROXY),
        (PROXY, PROXY, ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # left hops are the client's
        # nginx ($proxy_add_x_forwarded_for): the client's own header, then its peer appended to the value.
        (PROXY, PROXY, ["6.6.6.6, 7.7.7.7, 198.51.100.1"], "198.51.100.1"),
        # HAProxy (option forwardfor): the client's line kept, a new line added.
        (PROXY, PROXY, ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),
        (PROXY, PROXY, ["6.6.6.6, 7.7.7.7", "198.51.100.1"], "198.51.100.1"),
        # Several lines from a chain of trusted proxies (HAProxy in front of nginx, and so on).
        (CHAIN, PROXY, ["6.6.6.6", "198.51.100.1", "10.1.2.3"], "198.51.100.1"),
        (CHAIN, PROXY, ["6.6.6.6", "198.51.100.1, 10.1.2.3", "10.4.5.6"], "198.51.100.1"),
        (CHAIN, PROXY, ["198.51.100.1, 10.1.2.3"], "198.51.100.1"),
        (CHAIN, PROXY, ["10.9.9.9, 10.1.2.3"], "10.9.9.9"),  # all trusted: the one nearest the client
        # The same hops as one joined line (how Reflex hands them to the websocket) give the same answer.
        (CHAIN, PROXY, "6.6.6.6, 198.51.100.1, 10.1.2.3, 10.4.5.6", "198.51.100.1"),
        # Junk falls back to the peer.
        (PROXY, PROXY, ["garbage"], PROXY),
        (PROXY, PROXY, ["198.51.100.1, garbage"], PROXY),
        (PROXY, PROXY, ["unknown"], PROXY),
        (PROXY, PROXY, ["198.51.100.1 ,,  "], "198.51.100.1"),  # empty hops are skipped
        (PROXY, PROXY, ["x" * 5000], PROXY),
        (CHAIN, PROXY, ["198.51.100.1", "_hidden", "10.1.2.3"], PROXY),
        # Ports and brackets as some proxies write them.
        (PROXY, PROXY, ["198.51.100.1:5678"], "198.51.100.1"),
        (PROXY, PROXY, ["[2001:db8::1]:443"], "2001:db8::1"),
        (PROXY, PROXY, ["[2001:db8::1]"], "2001:db8::1"),
        # IPv4-mapped IPv6 is IPv4, for the peer and for the hops; IPv6 comes out canonical.
        ("", "::ffff:203.0.113.9", None, "203.0.113.9"),
        (PROXY, "::ffff:127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        (PROXY, PROXY, ["::ffff:198.51.100.1"], "198.51.100.1"),
        (PROXY, PROXY, ["2001:0DB8:0000::0001"], "2001:db8::1"),
        ("::1", "::1", ["198.51.100.1"], "198.51.100.1"),
        (CHAIN, "2001:db8:ffff::7", ["2001:db8:1::9"], "2001:db8:1::9"),
    ],
)
def test_client_address(
    monkeypatch: pytest.MonkeyPatch,
    trusted: str,
    peer: str | None,
    forwarded: str | list[str] | None,
    expected: str,
) -> None:
    monkeypatch.setenv("SIGNUP_TRUSTED_PROXIES", trusted)
    assert client_address(peer, forwarded) == expected


def test_every_line_of_the_header_is_read_in_order() -> None:
    headers = [
        (b"host", b"example.com"),
        (b"x-forwarded-for", b"6.6.6.6"),
        (b"X-Forwarded-For", b"198.51.100.1"),
        (b"x-forwarded-host", b"a"),
    ]
    assert header_lines(headers, b"x-forwarded-for") == ["6.6.6.6", "198.51.100.1"]


@pytest.mark.parametrize(
    ("prefix", "address", "expected"),
    [
        ("64", "203.0.113.9", "203.0.113.9"),
        ("64", "2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("64", "2001:db8:1:2:bbbb:cccc:dddd:eeee", "2001:db8:1:2::/64"),
        ("64", "2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("56", "2001:db8:1:2ff::1", "2001:db8:1:200::/56"),
        ("128", "2001:db8::1", "2001:db8::1/128"),
        ("64", "::ffff:203.0.113.9", "203.0.113.9"),
        ("64", "unknown", "unknown"),
    ],
)
def test_limit_key_groups_ipv6_by_prefix(
    monkeypatch: pytest.MonkeyPatch, prefix: str, address: str, expected: str
) -> None:
    monkeypatch.setenv("SIGNUP_IPV6_PREFIX", prefix)
    assert limit_key(address) == expected
