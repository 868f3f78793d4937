"""Who is asking: the client address, from the socket or a trusted proxy's X-Forwarded-For.

Every path that needs the address (the websocket handler, both HTTP routes, the
connection cap, the rate limits) calls client_address with every X-Forwarded-For
line the request carried, and counts it under limit_key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from signup_app import settings
from signup_app.settings import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"


def parse_address(value: str | None) -> Address | None:
    """An IP address from a peer or an X-Forwarded-For hop, or None for junk.

    Accepts the forms proxies write: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
    `[2001:db8::1]` and `[2001:db8::1]:443`. An IPv4-mapped IPv6 address
    (::ffff:1.2.3.4) is the IPv4 address it maps.
    """
    if not value:
        return None
    text = value.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _networks(trusted: tuple[Network, ...] | None) -> tuple[Network, ...]:
    """The given trusted networks, or the settings' SIGNUP_TRUSTED_PROXIES."""
    return settings.load().trusted_proxies if trusted is None else trusted


def is_trusted_proxy(peer: str | None, trusted: tuple[Network, ...] | None = None) -> bool:
    """Whether the socket's peer is in trusted (by default SIGNUP_TRUSTED_PROXIES)."""
    ip = parse_address(peer)
    networks = _networks(trusted)
    return ip is not None and any(ip in network for network in networks)


def header_lines(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    """Every value of one header in an ASGI scope's header list, in order (name lower-case)."""
    return [value.decode("latin-1") for key, value in headers if key.lower() == name]


def client_address(
    peer: str | None,
    forwarded_for: str | Iterable[str] | None,
    trusted: tuple[Network, ...] | None = None,
) -> str:
    """The address to hold responsible for a request.

    The socket's peer, unless the peer is a trusted proxy: then the right-most
    X-Forwarded-For hop that is not itself a trusted proxy, read across all the
    header's lines in order (HAProxy adds a line, nginx appends to the last one;
    hops further left are set by the client and could be anything). A hop that is
    not an IP address falls back to the peer. The result is in canonical form.
    Trusted proxies are `trusted`, by default the settings' SIGNUP_TRUSTED_PROXIES.
    """
    networks = _networks(trusted)
    peer_ip = parse_address(peer)
    fallback = str(peer_ip) if peer_ip is not None else (peer or UNKNOWN)
    if not forwarded_for or not is_trusted_proxy(peer, networks):
        return fallback
    lines = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for)
    hops = [hop.strip() for line in lines for hop in line.split(",")]
    address = fallback
    for hop in reversed(hops):
        if not hop:
            continue
        ip = parse_address(hop)
        if ip is None:
            return fallback
        address = str(ip)
        if not any(ip in network for network in networks):
            return address
    # Every hop is a trusted proxy: the left-most one is the closest to the client we know.
    return address


def scope_address(scope: Mapping[str, Any], trusted: tuple[Network, ...] | None = None) -> str:
    """The client address of an ASGI connection (HTTP or websocket), from its scope."""
    peer = scope.get("client")
    forwarded_for = header_lines(scope.get("headers", ()), b"x-forwarded-for")
    return client_address(peer[0] if peer else None, forwarded_for, trusted)
