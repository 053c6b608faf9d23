"""What the pass daemons (object replicator, db replicator, auditor) share.

Each runs passes over the node's devices: one with ``--once``, else one every
``interval`` until asked to stop; each pass ends the same way (figures
logged, progress line closed, stats file written) and a failed pass is
logged and retried at the next interval rather than ending the daemon. The
replicators also pick their devices out of a ring the same way and work
through a device's items ``concurrency`` at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar

import aiohttp

from martlet.backend import BackendTimeouts, make_session
from martlet.backend_auth import backend_key
from replicator.config import ring_address
from replicator.stats import PassStats, Progress, write_stats
from ring import Device, Ring
from storage.config import StorageConfig
from storage.db.connections import close_thread_connections
from storage.devices import DeviceIO
from storage.layout import stats_file

T = TypeVar("T")


class PassSection(Protocol):
    """The keys every pass daemon's section has."""

    @property
    def interval(self) -> float: ...

    @property
    def stats_file(self) -> str: ...


class PassDaemon:
    """Pass bookkeeping and the daemon loop.

    ``name`` is the daemon's name in its stats file (``<name>.json`` by
    default) and ``pass_message`` the log line of a pass; ``progress_name``
    is what the progress line calls it.
    """

    name: str
    progress_name: str
    pass_message: str

    def __init__(self, storage: StorageConfig, section: PassSection, log: logging.Logger, show_progress: bool) -> None:
        self.storage = storage
        self.pass_section = section
        self.log = log
        self.progress = Progress(self.progress_name, show_progress)
        self.last_pass: PassStats | None = None

    async def end_pass(self, stats: PassStats) -> PassStats:
        """Close the pass: figures logged, shown and written to the stats file."""
        stats.finish()
        self.progress.done(stats)
        self.last_pass = stats
        self.log.info(self.pass_message, extra=stats.figures())
        target = stats_file(self.storage.devices_root, self.name, self.pass_section.stats_file)
        await asyncio.to_thread(write_stats, target, self.name, stats)
        return stats

    async def run_passes(
        self, one_pass: Callable[[], Awaitable[PassStats]], once: bool, stop: asyncio.Event
    ) -> PassStats | None:
        """One pass (``once``, whose errors propagate) or a pass every
        ``interval`` until ``stop``; returns the last finished pass."""
        if once:
            return await one_pass()
        await repeat_passes(one_pass, self.pass_section.interval, False, stop, self.log, self.pass_message)
        return self.last_pass


async def repeat_passes(one_pass: Callable[[], Awaitable[object]], interval: float, once: bool,
                        stop: asyncio.Event, log: logging.Logger, what: str) -> None:
    """One pass (``once``) or a pass every ``interval`` until ``stop`` is
    set. A failed pass (a missing ring, a bad row) is logged and tried again
    at the next interval: one bad pass must not end the daemon."""
    while True:
        try:
            await one_pass()
        except Exception:
            log.exception(f"{what} failed")
        if once:
            return
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
            return
        except TimeoutError:
            continue


class ReplicationSection(PassSection, Protocol):
    @property
    def concurrency(self) -> int: ...

    @property
    def ring_ip(self) -> str: ...

    @property
    def ring_port(self) -> int: ...

    @property
    def conn_timeout(self) -> float: ...

    @property
    def node_timeout(self) -> float: ...


class ReplicatorDaemon(PassDaemon):
    """A pass daemon that talks to peers: one pooled session for all its
    passes, and a thread pool per device (``concurrency`` threads) for the
    disk work, closed when the daemon ends. It works on this node's devices
    of a ring (``devices``: only those, when given)."""

    def __init__(
        self,
        storage: StorageConfig,
        section: ReplicationSection,
        log: logging.Logger,
        show_progress: bool,
        devices: tuple[str, ...] = (),
    ) -> None:
        super().__init__(storage, section, log, show_progress)
        self.session_section = section
        self.only_devices = set(devices)
        # Peers refuse unsigned requests: no cluster secret, no daemon (ConfigError).
        self.backend_key = backend_key(storage.cluster)
        self.io = DeviceIO(storage.devices_root, section.concurrency, close_thread_connections)

    def ring_address(self) -> tuple[str, int]:
        """How this node's devices are named in the ring: ip and port."""
        return ring_address(self.storage, self.session_section.ring_ip, self.session_section.ring_port)

    def local_devices(self, ring: Ring) -> list[Device]:
        ip, port = self.ring_address()
        return local_devices(ring, ip, port, self.only_devices)

    async def run_pass(self, session: aiohttp.ClientSession) -> PassStats:
        raise NotImplementedError

    def make_session(self) -> aiohttp.ClientSession:
        section = self.session_section
        timeouts = BackendTimeouts(section.conn_timeout, section.node_timeout)
        return make_session(self.backend_key, timeouts, connections_per_host=max(4, section.concurrency))

    async def run(self, once: bool = False, stop: asyncio.Event | None = None) -> PassStats | None:
        """One pass (``once``) or a pass every ``interval`` until ``stop``."""
        try:
            async with self.make_session() as session:
                return await self.run_passes(lambda: self.run_pass(session), once, stop or asyncio.Event())
        finally:
            await asyncio.to_thread(self.io.close)


def local_devices(ring: Ring, ip: str, port: int, only: set[str]) -> list[Device]:
    """The ring's devices of this node (one per device name), limited to
    ``only`` when it is not empty."""
    found: dict[str, Device] = {}
    for dev in ring.devices:
        if dev is None or dev.ip != ip or dev.port != port:
            continue
        if only and dev.device not in only:
            continue
        found.setdefault(dev.device, dev)
    return list(found.values())


async def drain(items: Iterable[T], concurrency: int, handle: Callable[[T], Awaitable[None]]) -> None:
    """Run ``handle`` over ``items`` with ``concurrency`` workers pulling
    from one iterator (so a slow item holds up one worker, not a batch)."""
    queue = iter(items)

    async def worker() -> None:
        for item in queue:
            await handle(item)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
