"""Disk layout, file rules and the writer, on real files under tmp_path."""

import errno
import os
from pathlib import Path
from unittest import mock

import pytest

from martlet.errors import DeviceUnavailable
from martlet.hashing import HashSection, hash_path
from martlet.timestamp import Timestamp
from storage import diskfile as df
from storage.metadata import CorruptObject, ObjectMetadata

SETTINGS = HashSection("p", "s")


def ts(value: str) -> Timestamp:
    return Timestamp.parse(value)


def location(tmp_path: Path) -> df.ObjectLocation:
    (tmp_path / "sda").mkdir(exist_ok=True)
    return df.object_location(tmp_path / "sda", 5, "a", "c", "o", SETTINGS)


def put(loc: df.ObjectLocation, stamp: str, body: bytes = b"body", **extra: object) -> Path:
    writer = df.DiskFileWriter(loc, fsync=False)
    writer.open()
    try:
        writer.write(body)
        meta = ObjectMetadata(
            name="/a/c/o", timestamp=ts(stamp), etag=writer.etag, content_length=len(body), **extra  # type: ignore[arg-type]
        )
        return writer.commit(meta, df.DATA)
    finally:
        writer.abort()


def marker(loc: df.ObjectLocation, stamp: str, ext: str, **extra: object) -> Path:
    meta = ObjectMetadata(name="/a/c/o", timestamp=ts(stamp), **extra)  # type: ignore[arg-type]
    return df.write_marker(loc, meta, ext, fsync=False)


def test_layout(tmp_path: Path) -> None:
    loc = location(tmp_path)
    digest = hash_path("a", "c", "o", settings=SETTINGS)
    path = put(loc, "1700000000.00001")
    assert path == tmp_path / "sda" / "objects" / "5" / digest[-3:] / digest / "1700000000.00001.data"
    assert os.listdir(tmp_path / "sda" / "tmp") == []  # the temp file was renamed away
    assert (loc.part_dir / "hashes.invalid").read_text() == digest[-3:] + "\n"


def test_gather_rules() -> None:
    files = df.gather_files(["1.data", "2.meta", "3.data", "4.meta", "5.meta", "junk"])
    assert (files.data, files.meta, files.tombstone) == ("3.data", "5.meta", None)
    assert sorted(files.obsolete) == ["1.data", "2.meta", "4.meta"]
    # a tombstone newer than the data wins, and drops every .meta
    files = df.gather_files(["1.data", "2.ts", "3.meta"])
    assert (files.data, files.tombstone, files.meta) == (None, "2.ts", None)
    assert sorted(files.obsolete) == ["1.data", "3.meta"]
    # at equal timestamps the tombstone wins
    files = df.gather_files(["0000000002.00000.data", "0000000002.00000.ts"])
    assert files.tombstone == "0000000002.00000.ts"
    # offsets order events at the same time
    files = df.gather_files(["2.data", "0000000002.00000_0000000000000001.ts"])
    assert files.tombstone is not None


def test_newer_put_supersedes_older_files(tmp_path: Path) -> None:
    loc = location(tmp_path)
    put(loc, "1")
    marker(loc, "2", df.META, user_meta={"A": "1"})
    put(loc, "3", b"new")
    assert os.listdir(loc.hash_dir) == ["0000000003.00000.data"]
    marker(loc, "4", df.TOMBSTONE)
    assert os.listdir(loc.hash_dir) == ["0000000004.00000.ts"]


def test_open_applies_newer_meta(tmp_path: Path) -> None:
    loc = location(tmp_path)
    put(
        loc,
        "1",
        content_type="text/plain",
        user_meta={"Old": "x"},
        sys_meta={"X-Object-Sysmeta-K": "v", "Content-Encoding": "gzip"},
    )
    marker(loc, "2", df.META, user_meta={"New": "y"}, content_type="image/png")
    state = df.open_object(loc)
    try:
        assert state.exists and state.metadata is not None
        assert state.metadata.user_meta == {"New": "y"}
        assert state.metadata.content_type == "image/png"
        # sysmeta stays with the data; POST-able headers are replaced
        assert state.metadata.sys_meta == {"X-Object-Sysmeta-K": "v"}
        assert state.data_timestamp == ts("1") and state.metadata.timestamp == ts("2")
        assert state.newest == ts("2") and state.durable == ts("1")
        assert os.pread(state.fd, 10, 0) == b"body"  # type: ignore[arg-type]
    finally:
        state.close()


def test_open_tombstone_and_nothing(tmp_path: Path) -> None:
    loc = location(tmp_path)
    assert not df.open_object(loc).exists
    put(loc, "1")
    marker(loc, "2", df.TOMBSTONE)
    state = df.open_object(loc)
    assert not state.exists and state.tombstone_timestamp == ts("2")


def test_corrupt_metadata_raises_corrupt_object(tmp_path: Path) -> None:
    loc = location(tmp_path)
    path = put(loc, "1")
    os.setxattr(path, "user.martlet.meta", b"\xc1garbage")
    with pytest.raises(CorruptObject):
        df.open_object(loc)


def test_enospc_leaves_no_temp_file(tmp_path: Path) -> None:
    loc = location(tmp_path)
    writer = df.DiskFileWriter(loc, fsync=False)
    writer.open()
    full = OSError(errno.ENOSPC, "No space left on device")
    with mock.patch("storage.diskfile.os.writev", side_effect=full):
        with pytest.raises(DeviceUnavailable):
            writer.write(b"data")
    writer.abort()
    assert os.listdir(loc.tmp_dir) == []
    assert not loc.hash_dir.exists()


def test_cleanup_reclaims_old_tombstones(tmp_path: Path) -> None:
    loc = location(tmp_path)
    marker(loc, "1000", df.TOMBSTONE)
    files = df.cleanup_ondisk_files(loc.hash_dir, reclaim_age=100, now=1050)
    assert files.tombstone is not None and loc.hash_dir.exists()
    files = df.cleanup_ondisk_files(loc.hash_dir, reclaim_age=100, now=1101)
    assert files.tombstone is None and not loc.hash_dir.exists()


def test_iter_body_covers_range() -> None:
    assert list(df.iter_body(3, 10, 4)) == [(3, 4), (7, 3)]
    assert list(df.iter_body(5, 5, 4)) == []


def test_drop_written_keeps_what_a_short_writev_left() -> None:
    views = [memoryview(b"abc"), memoryview(b"de"), memoryview(b"fgh")]
    assert [bytes(v) for v in df.drop_written(views, 0)] == [b"abc", b"de", b"fgh"]
    assert [bytes(v) for v in df.drop_written(views, 4)] == [b"e", b"fgh"]
    assert [bytes(v) for v in df.drop_written(views, 5)] == [b"fgh"]
    assert df.drop_written(views, 8) == []


def test_write_chunks_stores_and_hashes_the_pieces_in_order(tmp_path: Path) -> None:
    import hashlib

    loc = location(tmp_path)
    pieces = [os.urandom(n) for n in (1, 0, 70000, 3, 4096)] + [b"x"] * (df.IOV_MAX + 5)
    writer = df.DiskFileWriter(loc, fsync=False)
    writer.open()
    try:
        writer.write_chunks(pieces)
        writer.write(b"tail")
        body = b"".join(pieces) + b"tail"
        assert writer.etag == hashlib.md5(body).hexdigest()
        assert writer.bytes_written == len(body)
        meta = ObjectMetadata(name="/a/c/o", timestamp=ts("1.00000"), etag=writer.etag, content_length=len(body))
        path = writer.commit(meta, df.DATA)
    finally:
        writer.abort()
    assert path.read_bytes() == body


def test_write_chunks_finishes_a_short_writev(tmp_path: Path) -> None:
    # A writev that stops part-way (a full pipe, a signal) is the one case
    # that cannot be made for real on a regular file: inject it.
    loc = location(tmp_path)
    real_writev = os.writev
    calls = []

    def short_writev(fd: int, buffers: list[memoryview]) -> int:
        calls.append(len(buffers))
        return real_writev(fd, [buffers[0][: max(1, len(buffers[0]) // 2)]])

    writer = df.DiskFileWriter(loc, fsync=False)
    writer.open()
    try:
        with mock.patch.object(df.os, "writev", short_writev):
            writer.write_chunks([b"hello ", b"short ", b"writes"])
        assert writer.fd is not None
        os.lseek(writer.fd, 0, os.SEEK_SET)
        assert os.read(writer.fd, 100) == b"hello short writes"
        assert len(calls) > 3
    finally:
        writer.abort()
