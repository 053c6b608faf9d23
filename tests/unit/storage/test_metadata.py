"""The xattr codec, on the real filesystem under tmp_path (ext4 on this machine)."""

import errno
import os
import random
import string
from pathlib import Path
from unittest import mock

import msgpack
import pytest

from martlet.timestamp import Timestamp
from storage import metadata as md
from storage.metadata import CorruptObject, ObjectMetadata, XattrUnsupported

# Swift's limits (swift/common/constraints.py).
MAX_META_COUNT = 90
MAX_META_NAME_LENGTH = 128
MAX_META_VALUE_LENGTH = 256
MAX_META_OVERALL_SIZE = 4096


def filesystem_type(path: Path) -> str:
    best = ("", "")
    with open("/proc/mounts") as mounts:
        for line in mounts:
            _dev, mount_point, fstype, *_ = line.split()
            if str(path.resolve()).startswith(mount_point) and len(mount_point) >= len(best[0]):
                best = (mount_point, fstype)
    return best[1]


def worst_case_user_meta(rng: random.Random) -> dict[str, str]:
    """90 keys whose names and values add up to exactly 4096 bytes: 13 with
    max-length (128-byte) names and 128-byte values, 77 small ones; random
    printable text so that compression cannot help."""
    alphabet = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"

    def text(prefix: str, length: int) -> str:
        return prefix + "".join(rng.choice(alphabet) for _ in range(length - len(prefix)))

    meta = {text(f"{i:03d}", MAX_META_NAME_LENGTH): text("", 128) for i in range(13)}
    for i in range(76):
        meta[text(f"{i:02d}-", 5)] = text("", 5)
    meta[text("zz", 4)] = text("", 4)
    return meta


def make_worst_case() -> ObjectMetadata:
    rng = random.Random(1234)
    user = worst_case_user_meta(rng)
    assert len(user) == MAX_META_COUNT
    assert sum(len(k) + len(v) for k, v in user.items()) == MAX_META_OVERALL_SIZE
    assert max(len(k) for k in user) == MAX_META_NAME_LENGTH
    obj = "".join(rng.choice(string.ascii_letters) for _ in range(1024))
    return ObjectMetadata(
        name=f"/{'a' * 256}/{'c' * 256}/{obj}",
        timestamp=Timestamp.parse("1700000000.12345_00000000000000ff"),
        etag="d41d8cd98f00b204e9800998ecf8427e",
        content_length=5 * 1024**3,
        content_type="application/x-" + "".join(rng.choice(string.ascii_lowercase) for _ in range(242)),
        delete_at=9999999999,
        user_meta=user,
        sys_meta={"X-Object-Sysmeta-Slo-Etag": "e" * 32, "Content-Encoding": "gzip"},
    )


def test_tmp_path_is_ext4(tmp_path: Path) -> None:
    # The worst-case test below is only meaningful on ext4's one-block xattrs.
    assert filesystem_type(tmp_path) in ("ext4", "ext3", "ext2")


def test_round_trip_small(tmp_path: Path) -> None:
    meta = ObjectMetadata(
        name="/a/c/o",
        timestamp=Timestamp.parse("1700000000.00001"),
        etag="5d41402abc4b2a76b9719d911017c592",
        content_length=5,
        crc32=0x3610A686,
        content_type="text/plain",
        user_meta={"Color": "red"},
    )
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    fd = os.open(path, os.O_RDWR)
    try:
        md.write_metadata(fd, meta, 5)
        assert md.read_metadata(fd) == meta
    finally:
        os.close(fd)
    # Small metadata lives in xattrs only: the file is just the body.
    assert path.read_bytes() == b"hello"
    assert os.listxattr(path) == [md.XATTR_NAME]


def test_full_swift_limits_on_this_filesystem(tmp_path: Path) -> None:
    meta = make_worst_case()
    body = b"x" * 1000
    path = tmp_path / "worst.data"
    path.write_bytes(body)
    fd = os.open(path, os.O_RDWR)
    try:
        md.write_metadata(fd, meta, len(body))
        os.fsync(fd)
    finally:
        os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert md.read_metadata(fd) == meta
        assert os.pread(fd, len(body), 0) == body  # the body is untouched
    finally:
        os.close(fd)


def test_medium_metadata_is_chunked_across_xattrs(tmp_path: Path) -> None:
    rng = random.Random(7)
    user = {f"k{i:02d}": "".join(rng.choice(string.printable[:94]) for _ in range(40)) for i in range(60)}
    meta = ObjectMetadata(name="/a/c/o", timestamp=Timestamp.parse("1"), user_meta=user)
    assert XATTR_CHUNK_SIZE_EXCEEDED(meta)
    path = tmp_path / "m"
    path.touch()
    fd = os.open(path, os.O_RDWR)
    try:
        md.write_metadata(fd, meta, 0)
        assert md.read_metadata(fd) == meta
    finally:
        os.close(fd)
    assert path.stat().st_size == 0  # no trailer: it fit in xattrs
    assert f"{md.XATTR_NAME}1" in os.listxattr(path)


def XATTR_CHUNK_SIZE_EXCEEDED(meta: ObjectMetadata) -> bool:
    return len(md.encode_metadata(meta)) > md.XATTR_CHUNK_SIZE


def test_compressible_metadata_is_compressed() -> None:
    meta = ObjectMetadata(name="/a/c/o", timestamp=Timestamp.parse("1"), user_meta={f"k{i}": "v" * 200 for i in range(20)})
    blob = md.encode_metadata(meta)
    assert len(blob) < len(md.pack_metadata(meta))
    assert "z" in msgpack.unpackb(blob)
    assert md.decode_metadata(blob) == meta


@pytest.mark.parametrize(
    "blob",
    [b"", b"\xc1", msgpack.packb([1, 2]), msgpack.packb({"v": 2, "n": "x", "t": "1"}),
     msgpack.packb({"v": 1, "t": "1"}), msgpack.packb({"v": 1, "n": "x", "t": "garbage"}),
     msgpack.packb({"v": 1, "z": b"not zlib"}), msgpack.packb({"v": 1, "n": "x", "t": "1", "m": {"a": 1}}),
     msgpack.packb({"v": 1, "n": "x", "t": "1", "k": "1"}), msgpack.packb({"v": 1, "n": "x", "t": "1", "k": -1}),
     msgpack.packb({"v": 1, "n": "x", "t": "1", "k": 1 << 32}), msgpack.packb({"v": 1, "n": "x", "t": "1", "k": True})],
)
def test_undecodable_blobs_are_corrupt(blob: bytes) -> None:
    with pytest.raises(CorruptObject):
        md.decode_metadata(blob)


def test_missing_xattr_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "bare"
    path.touch()
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(CorruptObject):
            md.read_metadata(fd)
    finally:
        os.close(fd)


def test_damaged_trailer_is_corrupt(tmp_path: Path) -> None:
    meta = make_worst_case()
    path = tmp_path / "t"
    path.touch()
    fd = os.open(path, os.O_RDWR)
    try:
        md.write_metadata(fd, meta, 0)
        stub = msgpack.unpackb(os.getxattr(fd, md.XATTR_NAME))
        assert "x" in stub, "worst case was expected to need the trailer on ext4"
        os.pwrite(fd, b"\x00\x00\x00", 10)
        with pytest.raises(CorruptObject):
            md.read_metadata(fd)
    finally:
        os.close(fd)


def test_filesystem_without_user_xattrs_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "n"
    path.touch()
    fd = os.open(path, os.O_RDWR)
    meta = ObjectMetadata(name="/a/c/o", timestamp=Timestamp.parse("1"))
    unsupported = OSError(errno.ENOTSUP, "Operation not supported")
    try:
        with mock.patch("storage.metadata.os.setxattr", side_effect=unsupported):
            with pytest.raises(XattrUnsupported) as info:
                md.write_metadata(fd, meta, 0)
        assert info.value.http_status == 507
        assert "xattr" in info.value.reason
    finally:
        os.close(fd)
    md.check_xattr_support(str(tmp_path))  # the real one has them
