"""Who is asking: the client address, from the socket or a trusted proxy's X-Forwarded-For."""

from __future__ import annotations

import functools
import ipaddress

from signup_app import config

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None) -> str:
    """The address to hold responsible for a request.

    The socket's peer, unless the peer is a trusted proxy: then the right-most
    X-Forwarded-For entry that is not itself a trusted proxy (entries further
    left are set by the client and could be anything).
    """
    address = peer or "unknown"
    networks = _trusted_networks(config.trusted_proxies())
    if not forwarded_for or not _is_trusted(address, networks):
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        if not hop:
            continue
        if not _is_trusted(hop, networks):
            return hop[:64]
        address = hop
    return address


def limit_key(address: str) -> str:
    """The key under which rate limits and the connection cap count an address."""
    return address
