"""Skipping nodes that keep failing, and deciding what counts as failing.

A node with ``limit`` errors within ``interval`` seconds, or one that just
answered 507 (its device is gone), is skipped for ``interval`` seconds, so
that one dead node does not add a connect timeout to every request. The
clock is passed in, so this bookkeeping is pure and tested directly.

A skipped node is skipped for every client, so only the node's own faults
may count, never a request's content (docs/security.md, "Error limiting").
``verdict`` sorts one answer: a refused connection is the node's alone and
counts at once; a 5xx, a refused backend signature (401) or a failure after
the request was delivered is only *suspect*, since the same bad request
fails on every replica alike. A ``Tally`` collects one fan-out's suspects
and counts them only if some node served that same request (2xx/3xx): then
the request was serviceable and the failing nodes are at fault.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

# A storage daemon's 401 means it refused the signature of a request this
# proxy signed: its key or its clock differs from ours, never the client's doing.
BACKEND_AUTH_REFUSED = 401


class Verdict(enum.Enum):
    SERVED = "served"  # 2xx/3xx: the node did the work; clears its record
    ANSWERED = "answered"  # another 4xx: a sound answer; clears its record
    SUSPECT = "suspect"  # counted only if another node served the request
    DEVICE_GONE = "device_gone"  # 507: skipped at once


def verdict(status: int) -> Verdict:
    """What one backend status says about the node that gave it."""
    if status == 507:
        return Verdict.DEVICE_GONE
    if status >= 500 or status == BACKEND_AUTH_REFUSED:
        return Verdict.SUSPECT
    if status < 400:
        return Verdict.SERVED
    return Verdict.ANSWERED


@dataclass
class Tally:
    """The suspect nodes of one request's fan-out (every replica asked
    for the same thing), settled once its answers are in."""

    suspects: list[str] = field(default_factory=list)
    served: bool = False

    def settle(self) -> list[str]:
        """The nodes to count an error against: the suspects, if another
        node served this request; none if no node did."""
        return list(self.suspects) if self.served else []


def node_key(ip: str, port: int, device: str) -> str:
    return f"{ip}:{port}/{device}"


@dataclass
class _NodeErrors:
    times: deque[float] = field(default_factory=deque)
    limited_until: float = 0.0


class ErrorLimiter:
    def __init__(self, limit: int = 10, interval: float = 60.0) -> None:
        self.limit = limit
        self.interval = interval
        self._nodes: dict[str, _NodeErrors] = {}

    def error(self, key: str, now: float) -> None:
        """Count one of the node's own faults (see the module docstring)."""
        node = self._nodes.setdefault(key, _NodeErrors())
        node.times.append(now)
        self._forget_old(node, now)
        if len(node.times) >= self.limit:
            node.limited_until = now + self.interval

    def insufficient_storage(self, key: str, now: float) -> None:
        """A 507 limits the node at once: its device is not there."""
        node = self._nodes.setdefault(key, _NodeErrors())
        node.limited_until = now + self.interval

    def success(self, key: str) -> None:
        """A good answer clears the node's record."""
        self._nodes.pop(key, None)

    def is_limited(self, key: str, now: float) -> bool:
        node = self._nodes.get(key)
        if node is None:
            return False
        if node.limited_until > now:
            return True
        self._forget_old(node, now)
        if not node.times:
            del self._nodes[key]
        return False

    def _forget_old(self, node: _NodeErrors, now: float) -> None:
        while node.times and node.times[0] <= now - self.interval:
            node.times.popleft()
