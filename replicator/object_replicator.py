"""The object replicator: makes every partition's replicas agree.

Each storage policy is replicated with its own ring (``object.ring``,
``object-N.ring``) over its own directories (``objects/``, ``objects-N/``),
and every request to a peer names the policy. For each partition of each
policy on each local device (the ring's devices with this node's ip and
port), one pass:

* **primary**: ask each other primary for its suffix hashes (REPLICATE);
  for each suffix that differs, compare hash directories file by file
  (``replicator.plan``) and push what the peer lacks or holds older -
  ``.data`` with its metadata, ``.ts``, ``.meta`` - keeping the original
  timestamps (replicated writes, ``storage.replication_protocol``); then REPLICATE
  the pushed suffixes on the peer so it rehashes them and both sides agree.
  Only pushes: a peer that holds something we lack pushes it to us in its
  own pass, as in Swift.
* **handoff** (this device is not a primary): the same towards every
  primary, then the partition's files are deleted here - only the files
  that were listed before the pushes, and only when every primary answered
  and took everything (a write landing meanwhile stays for the next pass).

Tombstones older than ``[storage] reclaim_age`` are removed when a suffix is
hashed or listed, on both sides; newer ones replicate like data, so a DELETE
made while a replica was down wins when it returns.

Bounds: ``concurrency`` partitions in flight per device (one thread pool per
device for the disk work, as the storage daemon has), devices in parallel,
short connect timeouts, and a peer found down is skipped for the rest of the
pass. Figures per pass: ``replicator.stats``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from martlet.errors import RingError
from replicator.config import ReplicatorSection
from replicator.daemon import ReplicatorDaemon, drain
from replicator.object_peer import FAILED, PUSHED, ObjectPeer, PeerState, node_key
from replicator.plan import Push, plan_partition, suffixes_to_sync
from replicator.stats import PassStats
from ring import Device, Ring, load_ring
from storage.config import StorageConfig, StorageSection
from storage.layout import DeviceLayout
from storage.partition_hashes import (
    PartitionListing,
    get_hashes,
    hashes_of_partitions,
    list_suffixes,
    remove_reverted,
)

log = logging.getLogger(__name__)

# Objects pushed to one peer at once (per partition): enough to hide the
# round trip of small objects, few enough not to flood a peer.
PUSHES_IN_FLIGHT = 8
# Partitions whose peers' suffix hashes are asked for at once, in one
# request per peer device: bounds what a pass holds in memory and how old
# a peer's hashes may be when their partition's turn comes.
HASHES_WINDOW = 256

# (peer device id, partition) -> that peer's suffix hashes of the partition
PeerHashes = dict[tuple[int, int], dict[str, str]]


def list_partitions(device_path: Path, policy: int = 0) -> list[int]:
    """Blocking: the partitions present under ``<dev>/objects`` (``objects-N``
    for policy N), sorted."""
    try:
        names = os.listdir(DeviceLayout(device_path).objects(policy))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(n) for n in names if n.isdigit())


class ObjectReplicator(ReplicatorDaemon):
    name = "object-replicator"
    progress_name = "replicator"
    pass_message = "replication pass"

    def __init__(
        self,
        storage: StorageConfig,
        section: ReplicatorSection,
        devices: tuple[str, ...] = (),
        partitions: tuple[int, ...] = (),
        show_progress: bool = False,
    ) -> None:
        super().__init__(storage, section, log, show_progress, devices)
        self.section = section
        self.only_partitions = set(partitions)

    def load_ring(self, policy: int = 0) -> Ring:
        cluster = self.storage.cluster
        return load_ring(cluster.ring_path("object", policy), cluster.hash)

    # -- one pass --------------------------------------------------------

    async def run_pass(self, session: aiohttp.ClientSession) -> PassStats:
        """Every storage policy in turn (policy 0's ring must load; another
        policy's missing ring is logged and counted as a failure)."""
        stats = PassStats()
        peers = PeerState()
        for policy in self.storage.cluster.policies:
            try:
                ring = await asyncio.to_thread(self.load_ring, policy.index)
            except RingError:
                if policy.index == 0:
                    raise
                log.warning("no ring for storage policy", extra={"policy": policy.index})
                stats.failures += 1
                continue
            await self._policy(session, ring, policy.index, stats, peers)
        return await self.end_pass(stats)

    async def _policy(
        self, session: aiohttp.ClientSession, ring: Ring, policy: int, stats: PassStats, peers: PeerState
    ) -> None:
        work: list[tuple[Device, list[int]]] = []
        local = self.local_devices(ring)
        if not local:
            ip, port = self.ring_address()
            log.warning("no device of this node in the object ring",
                        extra={"ip": ip, "port": port, "policy": policy})
        for dev in local:
            device_path = self.storage.devices_root / dev.device
            if not await asyncio.to_thread(device_path.is_dir):
                log.warning("device unavailable", extra={"device": dev.device})
                stats.failures += 1
                continue
            parts = await asyncio.to_thread(list_partitions, device_path, policy)
            if self.only_partitions:
                parts = [p for p in parts if p in self.only_partitions]
            stats.partitions_total += len(parts)
            work.append((dev, parts))
        await asyncio.gather(
            *(self._device(session, ring, policy, dev, parts, stats, peers) for dev, parts in work)
        )

    async def _device(
        self, session: aiohttp.ClientSession, ring: Ring, policy: int, dev: Device, parts: list[int],
        stats: PassStats, peers: PeerState,
    ) -> None:
        prefetched: PeerHashes = {}
        local: dict[int, dict[str, str]] = {}
        layout = DeviceLayout.of(self.storage.devices_root, dev.device)
        conf = self.storage.storage

        async def one(part: int) -> None:
            try:
                if not self._in_step(ring, dev, part, local.get(part), prefetched):
                    await self._partition(session, ring, policy, dev, part, stats, peers, prefetched)
            except Exception:  # one bad partition must not end the pass
                log.exception("partition failed", extra={"device": dev.device, "partition": part, "policy": policy})
                stats.failures += 1
            stats.partitions_checked += 1
            self.progress.show(stats)

        for start in range(0, len(parts), HASHES_WINDOW):
            window = parts[start : start + HASHES_WINDOW]
            in_ring = [p for p in window if p < ring.partition_count]  # _partition warns of the others
            # Our side of the window in one hop to the device's threads, the
            # peers' in one request each: a quiet partition then costs no
            # hop of its own (each woke a thread, at several times the CPU).
            # What a side did not answer is asked for alone (``_partition``).
            local, prefetched = await asyncio.gather(
                self._local_hashes(dev, layout, policy, in_ring, conf),
                self._peer_hashes(session, ring, policy, dev, in_ring, peers),
            )
            await drain(window, self.section.concurrency, one)

    async def _local_hashes(self, dev: Device, layout: DeviceLayout, policy: int, parts: list[int],
                            conf: StorageSection) -> dict[int, dict[str, str]]:
        """Our hashes of the window's partitions in one call; {} if the call
        itself fails (the device gone): each partition is then asked alone,
        and one that fails is counted, as before."""
        try:
            return await self.io.run(dev.device, hashes_of_partitions, layout, policy, parts, conf.reclaim_age,
                                     conf.fsync)
        except Exception as exc:
            log.warning("window hashes failed", extra={"device": dev.device, "policy": policy, "error": repr(exc)})
            return {}

    @staticmethod
    def _in_step(ring: Ring, dev: Device, part: int, local: dict[str, str] | None, prefetched: PeerHashes) -> bool:
        """Did the window's hashes find a primary partition the same on
        every other primary? Then it has nothing to push. (Anything else -
        a handoff, a partition outside the ring or not answered, a
        difference - is looked at afresh by ``_partition``.)"""
        if local is None:
            return False
        nodes = ring.get_part_nodes(part)
        if not any(n.id == dev.id for n in nodes):
            return False
        for node in nodes:
            if node.id != dev.id:
                remote = prefetched.get((node.id, part))
                if remote is None or suffixes_to_sync(local, remote):
                    return False
        return True

    async def _peer_hashes(
        self, session: aiohttp.ClientSession, ring: Ring, policy: int, dev: Device, window: list[int],
        peers: PeerState,
    ) -> PeerHashes:
        """Every peer's hashes of the window's partitions (all in the ring), one request per
        peer device. What a peer did not answer is missing: its partitions
        then ask it one by one (a peer of an older martlet, say)."""
        asks: dict[int, tuple[Device, list[int]]] = {}
        for part in window:
            for node in ring.get_part_nodes(part):
                if node.id != dev.id:
                    asks.setdefault(node.id, (node, []))[1].append(part)
        live = [(node, parts) for node, parts in asks.values() if node_key(node) not in peers.down]
        answers = await asyncio.gather(
            *(ObjectPeer(session, node, parts[0], peers, policy).hashes_of(parts) for node, parts in live)
        )
        found: PeerHashes = {}
        for (node, parts), answer in zip(live, answers):
            for part in parts:
                if answer is not None and part in answer:
                    found[(node.id, part)] = answer[part]
        return found

    async def _partition(
        self, session: aiohttp.ClientSession, ring: Ring, policy: int, dev: Device, part: int, stats: PassStats,
        peers: PeerState, prefetched: PeerHashes,
    ) -> None:
        if part >= ring.partition_count:
            log.warning("partition not in the ring", extra={"device": dev.device, "partition": part})
            return
        conf = self.storage.storage
        layout = DeviceLayout.of(self.storage.devices_root, dev.device)
        part_dir, tmp_dir = layout.object_partition(part, policy), layout.tmp(policy)
        local = await self.io.run(dev.device, get_hashes, part_dir, tmp_dir, (), conf.reclaim_age, conf.fsync)
        nodes = ring.get_part_nodes(part)
        primary = any(n.id == dev.id for n in nodes)
        targets = [n for n in nodes if n.id != dev.id]
        if not local and primary:
            return
        cache: PartitionListing = {}

        async def local_listing(suffixes: list[str]) -> PartitionListing:
            missing = [s for s in suffixes if s not in cache]
            if missing:
                cache.update(await self.io.run(dev.device, list_suffixes, part_dir, missing, conf.reclaim_age))
            return {s: cache[s] for s in suffixes}

        if not primary:
            await local_listing(sorted(local))  # what may be deleted once pushed
        results = [
            await self._sync_peer(ObjectPeer(session, node, part, peers, policy), part_dir, local, local_listing,
                                  stats, prefetched.get((node.id, part)))
            for node in targets
        ]
        if not primary and all(results):
            if await self.io.run(dev.device, remove_reverted, part_dir, dict(cache)):
                stats.handoffs_reverted += 1
                log.info("handoff reverted", extra={"device": dev.device, "partition": part})

    async def _sync_peer(
        self,
        peer: ObjectPeer,
        part_dir: Path,
        local: dict[str, str],
        local_listing: Callable[[list[str]], Awaitable[PartitionListing]],
        stats: PassStats,
        remote: dict[str, str] | None = None,
    ) -> bool:
        """Bring one peer up to date with our ``part_dir``; True if it needs
        nothing more."""
        if peer.is_down:
            stats.failures += 1
            return False
        if remote is not None and suffixes_to_sync(local, remote):
            # The window's hashes may predate writes both sides have had
            # since: ask afresh before comparing files.
            remote = None
        if remote is None:
            remote = await peer.hashes()
        if remote is None:
            stats.failures += 1
            return False
        suffixes = list(suffixes_to_sync(local, remote))
        if not suffixes:
            return True
        mine = await local_listing(suffixes)
        theirs = await peer.listing(suffixes)
        if theirs is None:
            stats.failures += 1
            return False
        plan = plan_partition(local, remote, mine, theirs)
        results = await self._push_all(peer, part_dir, plan.pushes, stats)
        ok = FAILED not in results
        if await peer.hashes(list(plan.suffixes)) is None:
            ok = False
        stats.suffixes_synced += len(plan.suffixes)
        return ok

    async def _push_all(self, peer: ObjectPeer, part_dir: Path, pushes: tuple[Push, ...], stats: PassStats) -> list[str]:
        """Push objects ``PUSHES_IN_FLIGHT`` at a time; the files of one object
        in plan order (its .data or .ts before its .meta)."""
        by_hash: dict[str, list[Push]] = {}
        for push in pushes:
            by_hash.setdefault(push.hash, []).append(push)
        gate = asyncio.Semaphore(PUSHES_IN_FLIGHT)
        chunk = self.storage.storage.disk_chunk_size
        results: list[str] = []

        async def one_object(files: list[Push]) -> None:
            async with gate:
                for push in files:
                    result = await peer.push(part_dir, push, chunk)
                    results.append(result)
                    if result == PUSHED:
                        stats.objects_pushed += 1
                    elif result == FAILED:
                        stats.failures += 1
                        return

        await asyncio.gather(*(one_object(files) for files in by_hash.values()))
        return results
