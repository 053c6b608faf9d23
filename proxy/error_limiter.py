"""Skipping nodes that keep failing.

A node with ``limit`` errors within ``interval`` seconds, or one that just
answered 507 (its device is gone), is skipped for ``interval`` seconds, so
that one dead node does not add a connect timeout to every request. The
clock is passed in, so this bookkeeping is pure and tested directly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


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
        """Count one error (timeout, refused connection, 5xx)."""
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
