"""Directories made for a write are fsynced up to the device root.

Real files under tmp_path; ``os.fsync`` is wrapped to record what each call
made durable (the path of its file descriptor), then calls the real one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from martlet.fileutil import make_dirs, make_dirs_durable
from martlet.hashing import HashSection
from martlet.timestamp import Timestamp
from storage import diskfile as df
from storage.async_pending import PendingUpdate, write_pending
from storage.db import ContainerBroker, db_path
from storage.metadata import ObjectMetadata

SETTINGS = HashSection("p", "s")


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[Path]]:
    """Returns a function giving the directories fsynced so far (and forgetting them)."""
    seen: list[Path] = []
    real_fsync = os.fsync

    def record(fd: int) -> None:
        seen.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", record)

    def dirs() -> list[Path]:
        out = [p for p in seen if p.is_dir()]
        seen.clear()
        return out

    return dirs


def device(tmp_path: Path) -> Path:
    root = (tmp_path / "sda").resolve()
    root.mkdir()
    return root


def put(dev: Path, obj: str, stamp: str, fsync: bool = True) -> df.ObjectLocation:
    loc = df.object_location(dev, 5, "a", "c", obj, SETTINGS)
    writer = df.DiskFileWriter(loc, fsync=fsync)
    writer.open()
    try:
        writer.write(b"body")
        meta = ObjectMetadata(name=f"/a/c/{obj}", timestamp=Timestamp.parse(stamp), etag=writer.etag,
                              content_length=4)
        writer.commit(meta, df.DATA)
    finally:
        writer.abort()
    return loc


def test_make_dirs_reports_what_it_created_top_down(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c"
    assert make_dirs(target) == [tmp_path / "a", tmp_path / "a" / "b", target]
    assert target.is_dir()
    assert make_dirs(target) == []
    assert make_dirs(target / "d") == [target / "d"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        make_dirs(tmp_path / "file" / "sub")


def test_first_object_write_fsyncs_every_new_directory_up_to_the_device(
    tmp_path: Path, synced: Callable[[], list[Path]]
) -> None:
    dev = device(tmp_path)
    loc = put(dev, "o", "1700000000.00001")
    objects = dev / "objects"
    # The hash directory (the rename), then the parent of each directory the
    # write made: suffix (holds hash), partition, objects/, the device root.
    assert synced() == [loc.hash_dir, loc.hash_dir.parent, loc.part_dir, objects, dev]


def test_later_writes_fsync_only_what_they_created(tmp_path: Path, synced: Callable[[], list[Path]]) -> None:
    dev = device(tmp_path)
    loc = put(dev, "o", "1700000000.00001")
    synced()
    put(dev, "o", "1700000000.00002")  # same hash directory: nothing new
    assert synced() == [loc.hash_dir]
    other = df.object_location(dev, 5, "a", "c", "other", SETTINGS)
    put(dev, "other", "1700000000.00003")
    if other.hash_dir.parent == loc.hash_dir.parent:
        assert synced() == [other.hash_dir, other.hash_dir.parent]  # a new hash dir in a known suffix
    else:
        assert synced() == [other.hash_dir, other.hash_dir.parent, other.part_dir]


def test_tombstones_and_metadata_take_the_same_path(tmp_path: Path, synced: Callable[[], list[Path]]) -> None:
    dev = device(tmp_path)
    loc = df.object_location(dev, 9, "a", "c", "gone", SETTINGS)
    df.write_marker(loc, ObjectMetadata(name="/a/c/gone", timestamp=Timestamp.parse("1700000000.00001")),
                    df.TOMBSTONE, fsync=True)
    assert synced() == [loc.hash_dir, loc.hash_dir.parent, loc.part_dir, dev / "objects", dev]


def test_without_fsync_nothing_is_fsynced(tmp_path: Path, synced: Callable[[], list[Path]]) -> None:
    dev = device(tmp_path)
    put(dev, "o", "1700000000.00001", fsync=False)
    assert synced() == []
    assert make_dirs_durable(dev / "x" / "y", fsync=False) == [dev / "x", dev / "x" / "y"]
    assert synced() == []


def test_a_new_database_fsyncs_its_directories_up_to_the_device(
    tmp_path: Path, synced: Callable[[], list[Path]]
) -> None:
    dev = device(tmp_path)
    path = db_path(dev.parent, "sda", "container", 7, "a", "c", hash_settings=SETTINGS)
    broker = ContainerBroker(path, fsync=True)
    assert broker.create(dev / "tmp", "a", "c", "1700000000.00001", {}, None)
    hash_dir = path.parent
    dirs = synced()
    # tmp/ is fsynced as the file's folder before the link; then the new
    # database's directories, deepest first.
    assert dirs[-5:] == [hash_dir, hash_dir.parent, hash_dir.parent.parent, dev / "containers", dev]
    # A second database in the same partition and suffix adds only its hash dir.
    other = db_path(dev.parent, "sda", "container", 7, "a", "c2", hash_settings=SETTINGS)
    assert ContainerBroker(other, fsync=True).create(dev / "tmp", "a", "c2", "1700000000.00002", {}, None)
    new = synced()
    assert new[-1] in (other.parent, other.parent.parent, other.parent.parent.parent)
    assert dev not in new and dev / "containers" not in new


def test_a_queued_container_update_is_durable_with_its_directories(
    tmp_path: Path, synced: Callable[[], list[Path]]
) -> None:
    dev = device(tmp_path)
    record = PendingUpdate(method="PUT", host="127.0.0.1:6200", device="sdb", partition=1, account="a",
                           container="c", obj="o", headers={"X-Timestamp": "1700000000.00001"})
    path = write_pending(dev, record, SETTINGS, fsync=True)
    dirs = synced()
    # The new suffix folder and async_pending/ (made durable before the
    # file goes in), then the suffix folder again once the file is in.
    assert dirs[:2] == [dev / "async_pending", dev]
    assert dirs[-1] == path.parent
