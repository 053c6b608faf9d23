"""Network addresses as URLs and headers spell them.

An IPv6 literal contains colons, so wherever it is followed by ``:port`` it
is written in brackets (RFC 3986). Every place that joins an ip and a port
goes through here.
"""

from __future__ import annotations

import ipaddress


def bracket_host(ip: str) -> str:
    """``ip`` as the host part of a URL: an IPv6 address in brackets."""
    return f"[{ip}]" if ":" in ip else ip


def host_port(ip: str, port: int) -> str:
    """``ip:port``, an IPv6 address in brackets."""
    return f"{bracket_host(ip)}:{port}"


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 address (no brackets), not a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
