"""The majority a replicated write needs, shared by the proxy and the daemons
that write on the cluster's behalf (the expirer)."""

from __future__ import annotations


def quorum_size(replicas: int) -> int:
    """A majority: ``replicas // 2 + 1``."""
    return replicas // 2 + 1
