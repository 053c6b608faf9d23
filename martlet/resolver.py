"""Node names resolved once and kept, never looked up on a request's path
again while the name is known.

Rings may name nodes by host name (the compose cluster's ``storageN``,
resolved by Docker's DNS). A lookup runs on a small shared thread pool
(uvloop's libuv pool has four threads), and the lookup of a name that is
gone (a stopped container) can block one of them for seconds before it
fails. Looked up on every new connection, a node that is down thus starved
the lookups of nodes that are up: their connects timed out and their
container rows were queued instead of written (the compose test's
"storage2 down" step found it).

So, per name and port:
- an IP literal is never looked up;
- the addresses found are kept; after ``ttl`` seconds the next ask still
  gets them at once and starts one lookup in the background, whose failure
  keeps them (a node whose DNS entry went away is then found down by its
  connect, as before);
- callers asking for a name not known yet share one lookup, which a
  caller's own timeout does not cancel: a name that does not answer ties up
  one thread, however many requests wait for it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Lookup = Callable[[str, int], Awaitable[tuple[str, ...]]]


async def getaddrinfo_lookup(host: str, port: int) -> tuple[str, ...]:
    """The addresses of ``host`` for a TCP connection, in the resolver's
    order, each once. OSError when there are none."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OSError(f"{host} has no address")
    return addresses


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Known:
    addresses: tuple[str, ...]
    fresh_until: float


class Resolver:
    """Addresses of node names, kept per (name, port); see the module."""

    def __init__(self, ttl: float = 10.0, lookup: Lookup = getaddrinfo_lookup,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._lookup = lookup
        self._clock = clock
        self._known: dict[tuple[str, int], _Known] = {}
        self._running: dict[tuple[str, int], asyncio.Task[tuple[str, ...]]] = {}

    async def addresses(self, host: str, port: int) -> tuple[str, ...]:
        """Where to connect for ``host:port``; raises the lookup's OSError
        for a name never resolved that cannot be."""
        if is_ip_literal(host):
            return (host,)
        key = (host, port)
        known = self._known.get(key)
        if known is not None:
            if self._clock() >= known.fresh_until:
                self._start(key)  # in the background: this ask is answered now
            return known.addresses
        return await asyncio.shield(self._start(key))

    def _start(self, key: tuple[str, int]) -> asyncio.Task[tuple[str, ...]]:
        """The lookup of ``key`` under way, or a new one."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._look_up(key))
            task.add_done_callback(_retrieve)
            self._running[key] = task
        return task

    async def _look_up(self, key: tuple[str, int]) -> tuple[str, ...]:
        try:
            addresses = await self._lookup(*key)
        except OSError as exc:
            if key in self._known:
                log.info("node name not resolved again; its addresses are kept",
                         extra={"host": key[0], "error": repr(exc)})
            raise
        finally:
            self._running.pop(key, None)
        self._known[key] = _Known(addresses, self._clock() + self._ttl)
        return addresses

    def close(self) -> None:
        """Cancel the lookups under way."""
        for task in list(self._running.values()):
            task.cancel()
        self._running.clear()


def _retrieve(task: asyncio.Task[tuple[str, ...]]) -> None:
    """A background lookup's failure, or one every waiter gave up on, is
    known (logged above or raised to the waiters), not an unretrieved one."""
    if not task.cancelled():
        task.exception()
