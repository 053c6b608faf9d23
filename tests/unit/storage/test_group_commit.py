"""Group commit of container row updates, with real SQLite and a real
device thread pool."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from martlet.errors import NotFound
from storage.db import ContainerBroker, ObjectUpdate
from storage.devices import DeviceIO
from storage.group_commit import GroupCommit

T1 = "1700000001.00000"


def new_container(tmp_path: Path) -> ContainerBroker:
    (tmp_path / "dev").mkdir()
    broker = ContainerBroker(tmp_path / "dev" / "containers" / "c.db", fsync=False)
    assert broker.create(tmp_path / "dev" / "tmp", "a", "c", T1, {}, None)
    return broker


def update(i: int) -> ObjectUpdate:
    return ObjectUpdate(f"o{i:04d}", f"17000001{i:02d}.00000", size=i, content_type="text/plain", etag="e")


@pytest.fixture
def io(tmp_path: Path):
    pool = DeviceIO(tmp_path, threads_per_device=4)
    yield pool
    pool.close()


async def test_concurrent_updates_share_transactions_and_all_land(tmp_path: Path, io: DeviceIO) -> None:
    broker = new_container(tmp_path)
    batches: list[int] = []

    def merge(items: Sequence[ObjectUpdate]) -> bool:
        batches.append(len(items))
        return broker.merge_objects(items)

    commit: GroupCommit[ObjectUpdate, bool] = GroupCommit(io)
    results = await asyncio.gather(*(commit.submit("dev", str(broker.path), update(i), merge) for i in range(60)))
    assert all(results)
    assert broker.get_info().object_count == 60
    assert sum(batches) == 60
    # what arrived while a transaction ran went in the next one
    assert len(batches) < 60


async def test_a_lone_update_is_committed_before_its_answer(tmp_path: Path, io: DeviceIO) -> None:
    broker = new_container(tmp_path)
    commit: GroupCommit[ObjectUpdate, bool] = GroupCommit(io)
    assert await commit.submit("dev", str(broker.path), update(1), broker.merge_objects)
    assert broker.get_info().object_count == 1
    # the same row again changes nothing, and says so
    assert not await commit.submit("dev", str(broker.path), update(1), broker.merge_objects)


async def test_every_waiter_of_a_failed_batch_gets_its_error(tmp_path: Path, io: DeviceIO) -> None:
    (tmp_path / "dev").mkdir()
    missing = ContainerBroker(tmp_path / "dev" / "containers" / "gone.db", fsync=False)
    commit: GroupCommit[ObjectUpdate, bool] = GroupCommit(io)
    results = await asyncio.gather(
        *(commit.submit("dev", str(missing.path), update(i), missing.merge_objects) for i in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(result, NotFound) for result in results)


async def test_a_waiter_that_goes_away_strands_nobody(tmp_path: Path, io: DeviceIO) -> None:
    broker = new_container(tmp_path)
    commit: GroupCommit[ObjectUpdate, bool] = GroupCommit(io)
    key = str(broker.path)
    first = asyncio.create_task(commit.submit("dev", key, update(0), broker.merge_objects))
    await asyncio.sleep(0)  # the first batch is under way
    leaver = asyncio.create_task(commit.submit("dev", key, update(1), broker.merge_objects))
    stayer = asyncio.create_task(commit.submit("dev", key, update(2), broker.merge_objects))
    await asyncio.sleep(0)
    leaver.cancel()
    assert await first and await stayer
    await commit.close()
    # the leaver's update was applied all the same (replays are harmless)
    assert broker.get_info().object_count == 3
