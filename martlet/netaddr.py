"""Network addresses as URLs and headers spell them.

An IPv6 literal contains colons, so wherever it is followed by ``:port`` it
is written in brackets (RFC 3986). Every place that joins an ip and a port
goes through here.
"""

from __future__ import annotations


def bracket_host(ip: str) -> str:
    """``ip`` as the host part of a URL: an IPv6 address in brackets."""
    return f"[{ip}]" if ":" in ip else ip


def host_port(ip: str, port: int) -> str:
    """``ip:port``, an IPv6 address in brackets."""
    return f"{bracket_host(ip)}:{port}"
