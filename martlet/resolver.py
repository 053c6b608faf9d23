"""Node names resolved once per process and kept, never looked up on a
request's path again while the name is known.

Rings may name nodes by host name (the compose cluster's ``storageN``,
resolved by Docker's DNS). The lookup of a name that is gone (a stopped
container on the compose cluster's internal network) blocks for 10 s
before it fails. Looked up on every new connection, on uvloop's pool of
four threads, a node that was down starved the lookups of nodes that were
up: their connects timed out and their container rows were queued instead
of written (the compose test's "storage2 down" step found it).

So, per name, for the whole process (every client and session of
every daemon thread's loop asks the same ``NAMES``):
- an IP literal is never looked up;
- the addresses found are kept; after ``ttl`` seconds the next ask still
  gets them at once and starts one lookup in the background, whose failure
  keeps them (a node whose DNS entry went away is then found down by its
  connect, as before);
- everyone asking for a name not known yet shares one lookup, which a
  caller's own timeout does not cancel: a name that does not answer ties up
  one thread, however many requests, clients and loops wait for it;
- lookups run on threads of their own (``LOOKUP_THREADS``), so no other
  blocking work queued on a loop's executor delays them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from martlet.netaddr import is_ip_literal

log = logging.getLogger(__name__)

Lookup = Callable[[str], tuple[str, ...]]
LOOKUP_THREADS = 8
DEFAULT_TTL = 10.0


def getaddrinfo_lookup(host: str) -> tuple[str, ...]:
    """Blocking: the addresses of ``host`` for a TCP connection, in the
    system resolver's order, each once. OSError when there are none."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OSError(f"{host} has no address")
    return addresses


@dataclass(frozen=True)
class _Known:
    addresses: tuple[str, ...]
    fresh_until: float


class Resolver:
    """Addresses of node names, kept per name (a node's ports all share its
    addresses); see the module.
    Thread-safe: the daemons of a node process run loops in threads of
    their own."""

    def __init__(self, ttl: float = DEFAULT_TTL, lookup: Lookup = getaddrinfo_lookup,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._lookup = lookup
        self._clock = clock
        self._known: dict[str, _Known] = {}
        self._fresh_threads()

    def _fresh_threads(self) -> None:
        """No lookup under way, and a pool whose threads are this process's
        (a forked child inherits the parent's pool without its threads)."""
        self._running: dict[str, concurrent.futures.Future[tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="resolver")

    async def addresses(self, host: str) -> tuple[str, ...]:
        """Where to connect to reach ``host``; raises the lookup's OSError
        for a name never resolved that cannot be."""
        if is_ip_literal(host):
            return (host,)
        known = self._known.get(host)
        if known is not None:
            if self._clock() >= known.fresh_until:
                self._start(host)  # in the background: this ask is answered now
            return known.addresses
        return await asyncio.shield(asyncio.wrap_future(self._start(host)))

    def _start(self, host: str) -> concurrent.futures.Future[tuple[str, ...]]:
        """The lookup of ``host`` under way, or a new one."""
        with self._lock:
            running = self._running.get(host)
            if running is None:
                running = self._running[host] = self._pool.submit(self._look_up, host)
            return running

    def _look_up(self, host: str) -> tuple[str, ...]:
        """On a lookup thread: look ``host`` up, and keep what was found."""
        try:
            addresses = self._lookup(host)
        except OSError as exc:
            if host in self._known:
                log.info("node name not resolved again; its addresses are kept",
                         extra={"host": host, "error": repr(exc)})
            raise
        else:
            self._known[host] = _Known(addresses, self._clock() + self._ttl)
            return addresses
        finally:
            with self._lock:
                self._running.pop(host, None)


# The process's resolver: every WholeAnswerClient and backend session asks it.
NAMES = Resolver()
os.register_at_fork(after_in_child=NAMES._fresh_threads)  # serve.run_app forks workers
