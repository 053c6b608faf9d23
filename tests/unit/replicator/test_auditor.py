"""The auditor: rate limits, and what it finds in real object files."""

from __future__ import annotations

import asyncio
import os
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from martlet.cluster import ClusterConfig
from martlet.hashing import HashSection
from martlet.timestamp import Timestamp
from martlet.ratelimit import RateLimiter
from replicator.auditor import Auditor, audit_hash_dir
from replicator.config import AuditorSection
from replicator.stats import PassStats
from storage.config import StorageConfig, StorageSection
from storage.diskfile import DATA, META, DiskFileWriter, ObjectLocation, object_location, write_marker
from storage.metadata import ObjectMetadata, read_metadata, write_metadata

SETTINGS = HashSection(path_prefix="p", path_suffix="s")
UNLIMITED = RateLimiter(0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_out_work() -> None:
    fake = FakeClock()
    limiter = RateLimiter(10, clock=fake.clock, sleep=fake.sleep)
    for _ in range(5):
        limiter.wait(1)
    assert fake.slept == pytest.approx([0.1, 0.1, 0.1, 0.1])
    assert fake.now == pytest.approx(100.4)


def test_rate_limiter_counts_amounts_and_idle_time() -> None:
    fake = FakeClock()
    limiter = RateLimiter(1000, clock=fake.clock, sleep=fake.sleep)
    limiter.wait(500)
    assert limiter.reserve(500) == pytest.approx(0.5)
    fake.now += 10  # idle: the budget does not pile up beyond "now"
    assert limiter.reserve(1) == 0.0


def test_a_burst_runs_ahead_then_sleeps_off_all_of_it() -> None:
    fake = FakeClock()
    limiter = RateLimiter(10, clock=fake.clock, sleep=fake.sleep, burst=0.5)
    for _ in range(100):
        limiter.wait(1)
    # Units 0-5 run at once; the seventh is 0.6 s ahead, past the burst, and
    # sleeps all of it; and so on: few long sleeps, the same average rate.
    assert fake.slept[:2] == pytest.approx([0.6, 0.6])
    assert all(s > 0.5 for s in fake.slept)
    assert len(fake.slept) == 16
    assert fake.now == pytest.approx(100 + 9.6)


def test_zero_rate_means_unlimited() -> None:
    assert RateLimiter(0).reserve(10**9) == 0.0


def _put(device: Path, name: str, body: bytes, ts: float = 1700000000.0) -> ObjectLocation:
    location = object_location(device, 5, "a", "c", name, SETTINGS)
    writer = DiskFileWriter(location, fsync=False)
    writer.open()
    writer.write(body)
    meta = ObjectMetadata(
        name=f"/a/c/{name}", timestamp=Timestamp.from_float(ts), etag=writer.etag, content_length=len(body)
    )
    writer.commit(meta, DATA)
    return location


def _data_file(location: ObjectLocation) -> Path:
    (name,) = [n for n in os.listdir(location.hash_dir) if n.endswith(DATA)]
    return location.hash_dir / name


def test_sound_object_passes(tmp_path: Path) -> None:
    location = _put(tmp_path / "sda", "o", b"hello world")
    result = audit_hash_dir(location.hash_dir, SETTINGS, 4096, UNLIMITED)
    assert result.problem is None and result.bytes_read == 11 and result.files == 1


def test_flipped_bytes_are_found(tmp_path: Path) -> None:
    location = _put(tmp_path / "sda", "o", b"hello world")
    with open(_data_file(location), "r+b") as handle:
        handle.write(b"J")
    result = audit_hash_dir(location.hash_dir, SETTINGS, 4, UNLIMITED)
    assert result.problem is not None and "ETag" in result.problem


def test_a_wrong_crc32_is_found(tmp_path: Path) -> None:
    """A GET checks the stored CRC-32, so the auditor does too: a .data
    whose CRC-32 is wrong would be cut by every GET."""
    location = _put(tmp_path / "sda", "o", b"hello world")
    fd = os.open(_data_file(location), os.O_RDWR)
    try:
        assert read_metadata(fd).crc32 == zlib.crc32(b"hello world")  # stamped by DiskFileWriter.commit
        # As an object stored before CRC-32s were: only the md5 is checked.
        write_metadata(fd, replace(read_metadata(fd), crc32=None), 11)
        meta = read_metadata(fd)
        assert meta.crc32 is None  # written without one: only the md5 is checked
        assert audit_hash_dir(location.hash_dir, SETTINGS, 4, UNLIMITED).problem is None
        write_metadata(fd, replace(meta, crc32=zlib.crc32(b"hello world")), 11)
        assert audit_hash_dir(location.hash_dir, SETTINGS, 4, UNLIMITED).problem is None
        write_metadata(fd, replace(meta, crc32=zlib.crc32(b"hello there")), 11)
    finally:
        os.close(fd)
    result = audit_hash_dir(location.hash_dir, SETTINGS, 4, UNLIMITED)
    assert result.problem is not None and "CRC-32" in result.problem


def test_truncated_body_is_found(tmp_path: Path) -> None:
    location = _put(tmp_path / "sda", "o", b"hello world")
    os.truncate(_data_file(location), 3)
    result = audit_hash_dir(location.hash_dir, SETTINGS, 4096, UNLIMITED)
    assert result.problem is not None and "shorter" in result.problem


def test_lost_metadata_is_found(tmp_path: Path) -> None:
    location = _put(tmp_path / "sda", "o", b"hello")
    os.removexattr(_data_file(location), "user.martlet.meta")
    result = audit_hash_dir(location.hash_dir, SETTINGS, 4096, UNLIMITED)
    assert result.problem is not None and "metadata" in result.problem


def test_object_in_the_wrong_directory_is_found(tmp_path: Path) -> None:
    location = _put(tmp_path / "sda", "o", b"hello")
    wrong = location.hash_dir.parent / ("f" * 29 + location.suffix)
    os.rename(location.hash_dir, wrong)
    result = audit_hash_dir(wrong, SETTINGS, 4096, UNLIMITED)
    assert result.problem is not None and "hash" in result.problem


def test_bad_meta_file_is_found(tmp_path: Path) -> None:
    location = _put(tmp_path / "sda", "o", b"hello")
    meta = ObjectMetadata(name="/a/c/o", timestamp=Timestamp.from_float(1700000001.0))
    path = write_marker(location, meta, META, fsync=False)
    os.removexattr(path, "user.martlet.meta")
    result = audit_hash_dir(location.hash_dir, SETTINGS, 4096, UNLIMITED)
    assert result.problem is not None and result.problem.startswith(path.name)


async def test_pass_quarantines_and_counts(tmp_path: Path) -> None:
    root = tmp_path / "node"
    good = _put(root / "sda", "good", b"x" * 10000)
    bad = _put(root / "sda", "bad", b"y" * 10000)
    with open(_data_file(bad), "r+b") as handle:
        handle.write(b"z")
    cluster = ClusterConfig(path="<test>", hash=SETTINGS, ring_dir=tmp_path, secret="s")
    storage = StorageConfig(StorageSection(devices=str(root), fsync=False), cluster)
    section = AuditorSection(files_per_second=0, bytes_per_second=0)
    stats = await Auditor(storage, section).run_pass()
    assert (stats.files_checked, stats.quarantined, stats.bytes_checked) == (2, 1, 20000)
    assert good.hash_dir.is_dir() and not bad.hash_dir.exists()
    assert os.listdir(root / "sda" / "quarantined" / "objects") == [bad.hash]
    # the suffix is dirty, so the next REPLICATE rehashes it
    assert bad.suffix in (bad.part_dir / "hashes.invalid").read_text().split()
    assert (root / "auditor.json").is_file()


async def test_a_stop_ends_a_limiter_sleep_mid_object(tmp_path: Path) -> None:
    root = tmp_path / "node"
    _put(root / "sda", "big", b"x" * 10000)
    cluster = ClusterConfig(path="<test>", hash=SETTINGS, ring_dir=tmp_path, secret="s")
    storage = StorageConfig(StorageSection(devices=str(root), fsync=False), cluster)
    # 2 KiB a second in 4 KiB chunks: each chunk after the first waits 2 s,
    # past the 1 s burst. A sleep the stop cannot end would let the walk
    # finish the object (some 6 s later) and count it.
    auditor = Auditor(storage, AuditorSection(files_per_second=0, bytes_per_second=2048, chunk_size=4096))
    stats = PassStats()
    walk = asyncio.create_task(asyncio.to_thread(auditor.audit_device, root / "sda", stats))
    for _ in range(1000):  # until the first chunk is reserved: the walk is in the object
        if auditor.bytes.reserve(0) > 1:
            break
        await asyncio.sleep(0.01)
    stop = asyncio.Event()
    watcher = asyncio.create_task(auditor._watch(stop))
    stop.set()
    await walk
    await watcher
    assert (stats.files_checked, stats.bytes_checked, stats.quarantined) == (0, 0, 0)


def test_quarantine_skips_a_file_replaced_meanwhile(tmp_path: Path) -> None:
    from storage.quarantine import quarantine_hash_dir

    location = _put(tmp_path / "sda", "o", b"old")
    stale = _data_file(location).name
    _put(tmp_path / "sda", "o", b"new", ts=1700000005.0)  # a newer PUT replaced it
    assert quarantine_hash_dir(location.hash_dir, "bad", bad_file=stale) is None
    assert location.hash_dir.is_dir()
    current = _data_file(location).name
    moved = quarantine_hash_dir(location.hash_dir, "bad", bad_file=current)
    assert moved is not None and moved.parent == tmp_path / "sda" / "quarantined" / "objects"
