"""The database replicator (``martlet db-replicator``): container and account
databases converge between their primaries.

A separate command rather than a mode of the object replicator: databases
and objects are walked differently (one SQLite file per hash directory
versus suffix hashes), found through different rings, and an operator tunes
and schedules them apart, as Swift's container- and account-replicator are.
One daemon serves both database kinds since their protocol is the same.

For each database on each local device (the container and account rings'
devices with this node's ip and port), towards each other primary:

1. ``sync``: send our status and metadata; the peer merges them (newest
   put/delete timestamp, newest timestamp per metadata key - the deleted
   status comes with the timestamps) and answers the highest of our ROWIDs
   it has merged. A peer without the database is sent ``create`` instead.
2. ``merge``: send our rows after that point in batches of
   ``rows_per_request``; the peer merges them by newest timestamp per name
   (deleted rows included) and records the new point.

A database on a device that is not one of its primaries (a handoff) is
pushed to every primary the same way and then removed, once all of them
took everything and no row was added meanwhile. The wire protocol is
``storage.replication_protocol``'s; the SQL of both sides ``storage.db_sync``.

Reclaim, before a database is replicated: its deleted rows older than
``reclaim_age`` are removed (``DatabaseBroker.reclaim``), and a database
that has been deleted (and empty) for longer than ``reclaim_age`` is removed
instead of replicated. Every replica does the same at the same age, so
what one has reclaimed the others reclaim too; the broker's reclaim cutoff
keeps a late row from a peer from bringing a reclaimed name back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from martlet.backend import backend_request
from martlet.fileutil import unlink_quietly
from martlet.timestamp import Timestamp
from replicator.config import DbReplicatorSection
from replicator.daemon import ReplicatorDaemon, drain
from replicator.object_peer import PEER_ERRORS, PeerState, node_key
from replicator.stats import PassStats
from ring import Device, Ring, load_ring
from storage.config import StorageConfig
from storage.db import DatabaseBroker
from storage.db.connections import thread_connections
from storage.db_sync import make_broker, read_info, rows_since
from storage.layout import NAME_HASH_RE, DeviceLayout
from storage.replication_protocol import (
    DbInfo,
    DbRequest,
    MergeRequest,
    SyncReply,
    SyncRequest,
    db_replicate_headers,
    encode_request,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DbFile:
    kind: str
    device: Device
    partition: int
    hash: str
    path: Path


def iter_db_files(device_path: Path, kind: str) -> Iterator[tuple[int, str, Path]]:
    """Blocking: ``(partition, hash, path)`` of every database of ``kind``."""
    root = DeviceLayout(device_path).databases(kind)
    for part in _names(root):
        if not part.isdigit():
            continue
        for suffix in _names(root / part):
            for hash_ in _names(root / part / suffix):
                path = root / part / suffix / hash_ / f"{hash_}.db"
                if NAME_HASH_RE.match(hash_) and path.is_file():
                    yield int(part), hash_, path


def _names(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def is_reclaimable(info: DbInfo, cutoff: str) -> bool:
    """Pure: deleted before ``cutoff`` and empty. An account must also hold
    no live container row (nothing reaps its containers but their own
    DELETEs), a container no live object row."""
    delete_ts = info.delete_timestamp
    return delete_ts > info.put_timestamp and delete_ts < cutoff and not info.live_rows


def reclaim_db(broker: DatabaseBroker, cutoff: str) -> tuple[int, bool]:
    """Blocking: reclaim old deleted rows; remove the database itself if
    it has been deleted since before ``cutoff``. ``(rows, removed)``."""
    rows = broker.reclaim(cutoff)
    info = read_info(broker)
    if is_reclaimable(info, cutoff):
        return rows, remove_db(broker, info.max_row)
    return rows, False


def remove_db(broker: DatabaseBroker, max_row: int) -> bool:
    """Blocking: delete a database (handed off, or reclaimed) unless rows
    arrived meanwhile."""
    if read_info(broker).max_row != max_row:
        return False
    thread_connections().forget(str(broker.path))  # read_info kept it open
    for suffix in ("", "-wal", "-shm"):
        unlink_quietly(Path(f"{broker.path}{suffix}"))
    for folder in (broker.path.parent, broker.path.parent.parent, broker.path.parent.parent.parent):
        try:
            os.rmdir(folder)
        except OSError:
            break
    return True


class DbReplicator(ReplicatorDaemon):
    name = "db-replicator"
    progress_name = "db-replicator"
    pass_message = "db replication pass"

    def __init__(
        self,
        storage: StorageConfig,
        section: DbReplicatorSection,
        devices: tuple[str, ...] = (),
        show_progress: bool = False,
    ) -> None:
        super().__init__(storage, section, log, show_progress, devices)
        self.section = section

    async def run_pass(self, session: aiohttp.ClientSession) -> PassStats:
        stats = PassStats()
        peers = PeerState()
        cluster = self.storage.cluster
        jobs = []
        for kind in ("account", "container"):
            ring = load_ring(cluster.ring_path(kind), cluster.hash)
            for dev in self.local_devices(ring):
                device_path = self.storage.devices_root / dev.device
                # iter_db_files is a generator: the walk runs in the thread.
                found = await asyncio.to_thread(list, iter_db_files(device_path, kind))
                files = [DbFile(kind, dev, part, h, path) for part, h, path in found]
                jobs.append(self._device(session, ring, files, stats, peers))
        await asyncio.gather(*jobs)
        return await self.end_pass(stats)

    async def _device(
        self, session: aiohttp.ClientSession, ring: Ring, files: list[DbFile], stats: PassStats, peers: PeerState
    ) -> None:
        async def one(db: DbFile) -> None:
            try:
                await self._replicate(session, ring, db, stats, peers)
            except Exception:  # one bad database must not end the pass
                log.exception("database replication failed", extra={"db": str(db.path)})
                stats.failures += 1
            stats.databases_checked += 1
            self.progress.show(stats)

        await drain(files, self.section.concurrency, one)

    async def _replicate(
        self, session: aiohttp.ClientSession, ring: Ring, db: DbFile, stats: PassStats, peers: PeerState
    ) -> None:
        if db.partition >= ring.partition_count:
            return
        nodes = ring.get_part_nodes(db.partition)
        primary = any(n.id == db.device.id for n in nodes)
        broker = make_broker(db.kind, db.path, self.storage.storage.fsync)
        cutoff = Timestamp.from_float(time.time() - self.section.reclaim_age).internal
        rows, removed = await self.io.run(db.device.device, reclaim_db, broker, cutoff)
        stats.rows_reclaimed += rows
        if removed:
            stats.databases_reclaimed += 1
            log.info("deleted database reclaimed", extra={"db": str(db.path)})
            return
        info = await self.io.run(db.device.device, read_info, broker)
        results = []
        for node in nodes:
            if node.id != db.device.id:
                results.append(await self._sync(session, node, db, broker, info, stats, peers))
        if not primary and all(results):
            if await self.io.run(db.device.device, remove_db, broker, info.max_row):
                stats.handoffs_reverted += 1
                log.info("handoff database reverted", extra={"db": str(db.path)})

    async def _call(
        self, session: aiohttp.ClientSession, node: Device, db: DbFile, request: DbRequest, peers: PeerState
    ) -> tuple[int, bytes]:
        """One REPLICATE: ``(status, answer body)``; status 0 on failure."""
        if node_key(node) in peers.down:
            return 0, b""
        path = f"/{node.device}/{db.partition}/{db.hash}"
        try:
            response = await backend_request(
                session, node.ip, node.port, "REPLICATE", path,
                headers=db_replicate_headers(db.kind), data=encode_request(request),
            )
            async with response:
                return response.status, await response.read()
        except aiohttp.ClientConnectorError:
            peers.down.add(node_key(node))
        except PEER_ERRORS as exc:
            log.info("db REPLICATE failed", extra={"node": node_key(node), "error": repr(exc)})
        return 0, b""

    async def _sync(
        self,
        session: aiohttp.ClientSession,
        node: Device,
        db: DbFile,
        broker: DatabaseBroker,
        info: DbInfo,
        stats: PassStats,
        peers: PeerState,
    ) -> bool:
        """Bring one peer's copy up to ours; True when it holds all our rows."""
        status, body = await self._call(session, node, db, SyncRequest(info, info.id), peers)
        if status == 404:
            status, body = await self._call(session, node, db, SyncRequest(info, info.id, create=True), peers)
        reply = _sync_reply(status, body)
        if reply is None:
            stats.failures += 1
            return False
        point = reply.point
        while point < info.max_row:
            rows = await self.io.run(db.device.device, rows_since, broker, point, self.section.rows_per_request)
            if not rows:
                break
            new_point = rows[-1].rowid
            status, _ = await self._call(session, node, db, MergeRequest(info.id, new_point, tuple(rows)), peers)
            if status != 204:
                stats.failures += 1
                return False
            stats.rows_pushed += len(rows)
            point = new_point
        return True


def _sync_reply(status: int, body: bytes) -> SyncReply | None:
    if status != 200:
        return None
    try:
        return SyncReply.decode(body)
    except ValueError as exc:
        log.info("undecodable sync reply", extra={"error": str(exc)})
        return None
