"""The object and database replicators against three real storage daemons
in this process, placed by a real ring file (2 replicas over 3 devices)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from martlet.backend import backend_path
from replicator.config import DbReplicatorSection, ReplicatorSection
from replicator.db_replicator import DbReplicator
from replicator.object_replicator import ObjectReplicator
from ring import Ring, RingBuilder, save_ring
from storage.config import StorageConfig
from tests.cluster.conftest import TEST_HASH, StorageDaemon, make_devices, start_storage_daemon
from tests.cluster.object_helpers import call, md5, ts

pytestmark = pytest.mark.cluster


@dataclass
class Trio:
    daemons: list[StorageDaemon]
    ring: Ring
    ring_dir: Path

    def config(self, index: int) -> StorageConfig:
        base = self.daemons[index].config
        return replace(base, cluster=replace(base.cluster, ring_dir=self.ring_dir))

    def object_replicator(self, index: int) -> ObjectReplicator:
        section = ReplicatorSection(ring_port=self.daemons[index].port, conn_timeout=0.5, node_timeout=5)
        return ObjectReplicator(self.config(index), section)

    def db_replicator(self, index: int) -> DbReplicator:
        section = DbReplicatorSection(ring_port=self.daemons[index].port, rows_per_request=2)
        return DbReplicator(self.config(index), section)

    def by_device_id(self, dev_id: int) -> StorageDaemon:
        return self.daemons[dev_id]


@pytest.fixture
async def trio(tmp_path: Path) -> AsyncIterator[Trio]:
    daemons = [await start_storage_daemon(make_devices(tmp_path / f"node{i}", ("sda",)), fsync=False) for i in range(3)]
    builder = RingBuilder(2, 2, 0)
    for i, daemon in enumerate(daemons):
        builder.add_device(1, i + 1, "127.0.0.1", daemon.port, "sda", 100.0)
    builder.rebalance()
    ring = builder.get_ring(TEST_HASH)
    for kind in ("object", "container", "account"):
        save_ring(ring, tmp_path / f"{kind}.ring")
    try:
        yield Trio(daemons, ring, tmp_path)
    finally:
        for daemon in daemons:
            await daemon.stop()


def _roles(trio: Trio, *names: str | None) -> tuple[int, list[int], int]:
    part, nodes = trio.ring.get_nodes("AUTH_a", *names)
    primaries = [n.id for n in nodes]
    (handoff,) = [i for i in range(3) if i not in primaries]
    return part, primaries, handoff


async def test_object_replicator_pushes_and_reverts_handoffs(trio: Trio, backend: aiohttp.ClientSession) -> None:
    part, (first, second), handoff = _roles(trio, "c", "o")
    path = backend_path("sda", part, "AUTH_a", "c", "o")
    body = b"replicate me"
    stamp = ts()
    for index in (first, handoff):  # as if the second primary was down
        put = {"X-Timestamp": stamp, "Content-Type": "text/plain"}
        assert (await call(backend, trio.daemons[index], "PUT", path, put, body))[0] == 201
    assert (await call(backend, trio.daemons[second], "GET", path))[0] == 404

    stats = await trio.object_replicator(handoff).run(once=True)
    assert stats is not None
    assert (stats.partitions_checked, stats.objects_pushed, stats.handoffs_reverted, stats.failures) == (1, 1, 1, 0)
    assert not (trio.daemons[handoff].device_path("sda") / "objects" / str(part)).exists()
    status, headers, got = await call(backend, trio.daemons[second], "GET", path)
    assert status == 200 and got == body and headers["X-Timestamp"] == stamp.split("_")[0]

    again = await trio.object_replicator(first).run(once=True)
    assert again is not None and again.objects_pushed == 0 and again.failures == 0


async def _replicates_answered(backend: aiohttp.ClientSession, daemon: StorageDaemon) -> float:
    _, _, text = await call(backend, daemon, "GET", "/metrics")
    return sum(
        float(line.rpartition(" ")[2]) for line in text.decode().splitlines()
        if line.startswith("martlet_http_requests_total{") and 'method="REPLICATE"' in line
    )


async def _in_step_on_both_primaries(trio: Trio, backend: aiohttp.ClientSession) -> set[int]:
    """Objects PUT to both primaries of node 0's partitions: the partitions."""
    parts: set[int] = set()
    for i in range(16):
        part, primaries, _ = _roles(trio, "c", f"o{i}")
        if 0 not in primaries:
            continue
        parts.add(part)
        put = {"X-Timestamp": ts(), "Content-Type": "text/plain"}
        for index in primaries:  # both primaries hold it: nothing to push
            path = backend_path("sda", part, "AUTH_a", "c", f"o{i}")
            assert (await call(backend, trio.daemons[index], "PUT", path, put, b"x"))[0] == 201
    assert len(parts) > 1
    return parts


async def test_a_pass_over_partitions_in_step_asks_each_peer_once(trio: Trio, backend: aiohttp.ClientSession) -> None:
    await _in_step_on_both_primaries(trio, backend)
    before = [await _replicates_answered(backend, d) for d in trio.daemons[1:]]
    stats = await trio.object_replicator(0).run(once=True)
    assert stats is not None and stats.objects_pushed == 0 and stats.failures == 0
    after = [await _replicates_answered(backend, d) for d in trio.daemons[1:]]
    # one request per peer for the suffix hashes of all its partitions
    # (the objects' own PUTs made the peers' hashes dirty: both sides agree
    # after rehashing, so no per-partition request follows)
    assert [a - b for a, b in zip(after, before)] == [1, 1]


async def test_partitions_in_step_cost_one_call_to_the_device_threads(
    trio: Trio, backend: aiohttp.ClientSession
) -> None:
    parts = await _in_step_on_both_primaries(trio, backend)
    replicator = trio.object_replicator(0)
    calls: list[str] = []
    run = replicator.io.run

    async def counted(device: str, fn: Callable[..., Any], *args: Any) -> Any:
        calls.append(fn.__name__)
        return await run(device, fn, *args)

    replicator.io.run = counted  # type: ignore[method-assign]
    stats = await replicator.run(once=True)
    assert stats is not None and stats.partitions_checked == len(parts) and stats.failures == 0
    # the window's hashes, ours in one call: no partition needed one of its own
    assert calls == ["hashes_of_partitions"]


async def test_a_partition_that_cannot_be_hashed_fails_alone(trio: Trio, backend: aiohttp.ClientSession) -> None:
    parts = await _in_step_on_both_primaries(trio, backend)
    bad = min(parts)
    part_dir = trio.daemons[0].device_path("sda") / "objects" / str(bad)
    (part_dir / "hashes.msgpack").unlink(missing_ok=True)
    (part_dir / "hashes.msgpack").mkdir()  # unreadable and unwritable: get_hashes raises
    stats = await trio.object_replicator(0).run(once=True)
    assert stats is not None
    # left out of the window's answer, the partition is asked alone: one failure, the pass goes on
    assert (stats.partitions_checked, stats.failures) == (len(parts), 1)


async def test_object_replicator_goes_on_when_a_peer_is_down(trio: Trio, backend: aiohttp.ClientSession) -> None:
    part, (first, second), handoff = _roles(trio, "c", "p")
    path = backend_path("sda", part, "AUTH_a", "c", "p")
    assert (await call(backend, trio.daemons[handoff], "PUT", path, {"X-Timestamp": ts()}, b"x"))[0] == 201
    await trio.daemons[second].stop()
    stats = await trio.object_replicator(handoff).run(once=True)
    assert stats is not None and stats.failures >= 1 and stats.objects_pushed == 1
    assert stats.handoffs_reverted == 0  # one primary never acknowledged
    assert (trio.daemons[handoff].device_path("sda") / "objects" / str(part)).is_dir()
    assert (await call(backend, trio.daemons[first], "GET", path))[0] == 200


async def _container(backend: aiohttp.ClientSession, daemon: StorageDaemon, part: int, meta: dict[str, str]) -> None:
    path = backend_path("sda", part, "AUTH_a", "c")
    status, _, _ = await call(backend, daemon, "PUT", path, {"X-Timestamp": ts(), **meta})
    assert status in (201, 202)


async def _row(backend: aiohttp.ClientSession, daemon: StorageDaemon, part: int, name: str, method: str = "PUT") -> None:
    path = backend_path("sda", part, "AUTH_a", "c", name)
    headers = {"X-Backend-Type": "container", "X-Timestamp": ts(), "X-Size": "1", "X-Content-Type": "text/plain",
               "X-Etag": md5(name.encode())}
    assert (await call(backend, daemon, method, path, headers))[0] in (201, 204)


async def _listing(backend: aiohttp.ClientSession, daemon: StorageDaemon, part: int) -> tuple[list[str], dict[str, str]]:
    status, headers, body = await call(backend, daemon, "GET", backend_path("sda", part, "AUTH_a", "c"))
    assert status in (200, 204), status
    return body.decode().split(), headers


async def test_db_replicator_merges_rows_metadata_and_hands_off(trio: Trio, backend: aiohttp.ClientSession) -> None:
    part, (first, second), handoff = _roles(trio, "c")
    a, b, c = trio.daemons[first], trio.daemons[second], trio.daemons[handoff]
    await _container(backend, a, part, {"X-Container-Meta-Color": "red", "X-Container-Meta-Kept": "1"})
    await _container(backend, b, part, {"X-Container-Meta-Color": "blue"})  # newer: wins
    for name in ("a1", "a2", "both", "gone"):
        await _row(backend, a, part, name)
    await _row(backend, b, part, "b1")
    await _row(backend, b, part, "gone", "DELETE")  # newer delete wins
    await _container(backend, c, part, {})
    await _row(backend, c, part, "from-handoff")

    passes = {}
    for index in (first, second, handoff):
        stats = await trio.db_replicator(index).run(once=True)
        assert stats is not None and stats.failures == 0
        passes[index] = stats
    handoff_stats = passes[handoff]
    expected = ["a1", "a2", "b1", "both", "from-handoff"]
    for daemon in (a, b):
        names, headers = await _listing(backend, daemon, part)
        assert names == expected
        assert headers["X-Container-Meta-Color"] == "blue"
        assert headers["X-Container-Meta-Kept"] == "1"
        assert headers["X-Container-Object-Count"] == "5"
    db_dir = c.device_path("sda") / "containers" / str(part)
    assert not any(p.suffix == ".db" for p in db_dir.rglob("*")) if db_dir.exists() else True
    assert handoff_stats is not None and handoff_stats.handoffs_reverted == 1

    # Rows merged from a peer get new ROWIDs, so they echo back once; after
    # that, passes send nothing (sync points).
    for index in (first, second):
        await trio.db_replicator(index).run(once=True)
    for index in (first, second):
        stats = await trio.db_replicator(index).run(once=True)
        assert stats is not None and stats.rows_pushed == 0 and stats.databases_checked == 1


async def test_db_replicator_carries_deleted_status(trio: Trio, backend: aiohttp.ClientSession) -> None:
    part, (first, second), _handoff = _roles(trio, "c")
    a, b = trio.daemons[first], trio.daemons[second]
    await _container(backend, a, part, {})
    await _container(backend, b, part, {})
    status, _, _ = await call(backend, a, "DELETE", backend_path("sda", part, "AUTH_a", "c"), {"X-Timestamp": ts()})
    assert status == 204
    assert (await call(backend, b, "HEAD", backend_path("sda", part, "AUTH_a", "c")))[0] == 204
    await trio.db_replicator(first).run(once=True)
    assert (await call(backend, b, "HEAD", backend_path("sda", part, "AUTH_a", "c")))[0] == 404
    assert os.path.isdir(b.device_path("sda") / "containers")


async def test_old_tombstones_are_reclaimed_not_replicated(trio: Trio, backend: aiohttp.ClientSession) -> None:
    from storage.metadata import ObjectMetadata, encode_metadata
    from martlet.timestamp import Timestamp

    part, (first, second), _handoff = _roles(trio, "c", "old")
    path = backend_path("sda", part, "AUTH_a", "c", "old")
    blob = encode_metadata(ObjectMetadata(name="/AUTH_a/c/old", timestamp=Timestamp.parse("1000000000")))
    headers = {"X-Backend-Replication": "true", "X-Backend-Replication-Ext": ".ts",
               "X-Backend-Replication-Metadata-Length": str(len(blob))}
    assert (await call(backend, trio.daemons[first], "PUT", path, headers, blob))[0] == 201
    part_dir = trio.daemons[first].device_path("sda") / "objects" / str(part)
    assert any(p.suffix == ".ts" for p in part_dir.rglob("*"))
    stats = await trio.object_replicator(first).run(once=True)
    assert stats is not None and stats.objects_pushed == 0 and stats.failures == 0
    assert not any(p.suffix == ".ts" for p in part_dir.rglob("*"))  # reclaimed (older than a week)
    assert not (trio.daemons[second].device_path("sda") / "objects" / str(part)).exists()


# -- reclaim of deleted rows and databases ------------------------------------

DAY = 86400.0


def _ago(days: float) -> str:
    from martlet.timestamp import Timestamp

    return Timestamp.from_float(__import__("time").time() - days * DAY).internal


def _db_replicator(trio: Trio, index: int, reclaim_days: float) -> DbReplicator:
    section = DbReplicatorSection(ring_port=trio.daemons[index].port, reclaim_age=int(reclaim_days * DAY))
    return DbReplicator(trio.config(index), section)


async def _row_at(backend: aiohttp.ClientSession, daemon: StorageDaemon, part: int, name: str, stamp: str,
                  method: str = "PUT") -> None:
    path = backend_path("sda", part, "AUTH_a", "c", name)
    headers = {"X-Backend-Type": "container", "X-Timestamp": stamp, "X-Size": "1", "X-Content-Type": "text/plain",
               "X-Etag": md5(name.encode())}
    assert (await call(backend, daemon, method, path, headers))[0] in (201, 204)


def _rows(daemon: StorageDaemon, part: int, names: list[str]) -> dict[str, tuple[str, int]]:
    from storage.db import ContainerBroker, db_path

    path = db_path(daemon.devices_root, "sda", "container", part, "AUTH_a", "c", hash_settings=TEST_HASH)
    return ContainerBroker(path, fsync=False).get_object_rows(names)


async def test_replicas_reclaim_alike_and_converge(trio: Trio, backend: aiohttp.ClientSession) -> None:
    part, (first, second), _handoff = _roles(trio, "c")
    a, b = trio.daemons[first], trio.daemons[second]
    every = ["keep", "gone", "x", "fresh-gone"]
    for daemon in (a, b):
        await _container(backend, daemon, part, {})
        await _row_at(backend, daemon, part, "keep", _ago(10))
        await _row_at(backend, daemon, part, "gone", _ago(10))
        await _row_at(backend, daemon, part, "gone", _ago(9), "DELETE")
    await _row_at(backend, a, part, "x", _ago(10))
    await _row_at(backend, a, part, "x", _ago(9), "DELETE")  # only A heard of it, 9 days ago...
    await _row_at(backend, b, part, "fresh-gone", _ago(1))
    await _row_at(backend, b, part, "fresh-gone", _ago(0.5), "DELETE")

    # ...but within reclaim_age (30 days here) replication brings it to B.
    for index in (first, second):
        stats = await _db_replicator(trio, index, 30).run(once=True)
        assert stats is not None and stats.rows_reclaimed == 0 and stats.failures == 0
    assert _rows(a, part, every).keys() == _rows(b, part, every).keys() == set(every)

    # Both reclaim at 3 days: the two old deletes go on each, nothing else.
    for index in (first, second):
        stats = await _db_replicator(trio, index, 3).run(once=True)
        assert stats is not None and stats.rows_reclaimed == 2 and stats.failures == 0
    for index in (first, second, first, second):  # more passes bring nothing back
        stats = await _db_replicator(trio, index, 3).run(once=True)
        assert stats is not None and stats.rows_reclaimed == 0
    for daemon in (a, b):
        rows = _rows(daemon, part, every)
        assert {n: deleted for n, (_, deleted) in rows.items()} == {"keep": 0, "fresh-gone": 1}
        names, headers = await _listing(backend, daemon, part)
        assert names == ["keep"] and headers["X-Container-Object-Count"] == "1"


async def test_a_reclaimed_delete_is_not_resurrected_by_a_peer(trio: Trio, backend: aiohttp.ClientSession) -> None:
    """A reclaimed x's delete; B never heard of the delete and has not
    reclaimed anything, so it still sends x's older PUT row: A drops it."""
    part, (first, second), _handoff = _roles(trio, "c")
    a, b = trio.daemons[first], trio.daemons[second]
    for daemon in (a, b):
        await _container(backend, daemon, part, {})
        await _row_at(backend, daemon, part, "x", _ago(10))
    await _row_at(backend, a, part, "x", _ago(9), "DELETE")
    await _row_at(backend, b, part, "y", _ago(1))  # within reclaim_age: a row A must take

    stats = await _db_replicator(trio, first, 3).run(once=True)
    assert stats is not None and stats.rows_reclaimed == 1
    stats = await _db_replicator(trio, second, 30).run(once=True)  # B pushes x's PUT and y
    assert stats is not None and stats.rows_pushed >= 2 and stats.failures == 0
    assert _rows(a, part, ["x", "y"]).keys() == {"y"}
    # A late replay of x's PUT (async_pending) is dropped the same way.
    await _row_at(backend, a, part, "x", _ago(10))
    names, _ = await _listing(backend, a, part)
    assert names == ["y"]
    # A new PUT of x, after the cutoff, is a new object.
    await _row_at(backend, b, part, "x", _ago(0))
    await _db_replicator(trio, second, 30).run(once=True)
    assert (await _listing(backend, a, part))[0] == ["x", "y"]


async def test_a_long_deleted_container_database_is_removed_everywhere(
    trio: Trio, backend: aiohttp.ClientSession
) -> None:
    part, (first, second), _handoff = _roles(trio, "c")
    path = backend_path("sda", part, "AUTH_a", "c")
    for index in (first, second):
        daemon = trio.daemons[index]
        assert (await call(backend, daemon, "PUT", path, {"X-Timestamp": _ago(10)}))[0] == 201
        await _row_at(backend, daemon, part, "o", _ago(10))
        await _row_at(backend, daemon, part, "o", _ago(9), "DELETE")
        assert (await call(backend, daemon, "DELETE", path, {"X-Timestamp": _ago(8)}))[0] == 204
    # B has not reached the age yet (a longer reclaim_age): it re-creates
    # A's copy, still deleted; once both reclaim, it is gone for good.
    stats = await _db_replicator(trio, first, 3).run(once=True)
    assert stats is not None and stats.databases_reclaimed == 1
    await _db_replicator(trio, second, 30).run(once=True)
    assert (await call(backend, trio.daemons[first], "HEAD", path))[0] == 404
    for index in (second, first):
        await _db_replicator(trio, index, 3).run(once=True)
    for index in (first, second, first):
        stats = await _db_replicator(trio, index, 3).run(once=True)
        assert stats is not None and stats.databases_checked == 0
    for index in (first, second):
        assert not any(p.suffix == ".db" for p in (trio.daemons[index].device_path("sda") / "containers").rglob("*"))
