import hashlib
from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest

from martlet.errors import BadRequest
from martlet.timestamp import Timestamp
from storage import diskfile as df
from storage import partition_hashes as ph
from storage.layout import DeviceLayout
from storage.metadata import ObjectMetadata
from storage.partition_hashes import get_hashes, parse_suffixes


def tombstone(device: Path, obj: str, stamp: str) -> df.ObjectLocation:
    loc = df.object_location(device, 3, "a", "c", obj)
    df.write_marker(loc, ObjectMetadata(name=f"/a/c/{obj}", timestamp=Timestamp.parse(stamp)), df.TOMBSTONE, fsync=False)
    return loc


def test_suffix_hash_is_md5_of_file_names(tmp_path: Path) -> None:
    device = tmp_path / "sda"
    loc = tombstone(device, "o", "1700000000.00000")
    hashes = get_hashes(loc.part_dir, device / "tmp", fsync=False)
    expected = hashlib.md5(f"{loc.hash}/1700000000.00000.ts\n".encode()).hexdigest()
    assert hashes == {loc.suffix: expected}
    stored = msgpack.unpackb((loc.part_dir / "hashes.msgpack").read_bytes())
    assert stored == {"v": 1, "hashes": {loc.suffix: expected}, "gen": 1}
    assert (loc.part_dir / "hashes.invalid").read_text() == ""


def test_only_dirty_suffixes_are_rehashed(tmp_path: Path) -> None:
    device = tmp_path / "sda"
    loc = tombstone(device, "o", "1700000000.00000")
    first = get_hashes(loc.part_dir, device / "tmp", fsync=False)
    # Change the suffix behind the cache's back: the cached hash stays...
    (loc.hash_dir / "1700000000.00000.ts").rename(loc.hash_dir / "1700000001.00000.ts")
    assert get_hashes(loc.part_dir, device / "tmp", fsync=False) == first
    # ...until the suffix is named (REPLICATE /dev/part/suffix) or invalidated.
    named = get_hashes(loc.part_dir, device / "tmp", recalculate=[loc.suffix], fsync=False)
    assert named != first
    tombstone(device, "o", "1700000002.00000")  # a write invalidates
    assert get_hashes(loc.part_dir, device / "tmp", fsync=False) != named


def test_reclaimed_suffix_disappears(tmp_path: Path) -> None:
    device = tmp_path / "sda"
    loc = tombstone(device, "o", "1000000000.00000")
    assert get_hashes(loc.part_dir, device / "tmp", reclaim_age=60, fsync=False) == {}
    assert not (loc.part_dir / loc.suffix).exists()


def test_missing_partition(tmp_path: Path) -> None:
    assert get_hashes(tmp_path / "sda" / "objects" / "9", tmp_path / "sda" / "tmp") == {}


def test_parse_suffixes_of_replicate_paths() -> None:
    assert parse_suffixes(()) == []
    assert parse_suffixes(("abc-0f1",)) == ["abc", "0f1"]
    assert parse_suffixes(("abc",), required=True) == ["abc"]
    for rest in (("ABC",), ("abcd",), ("abc-",), ("abc", "def")):
        with pytest.raises(BadRequest):
            parse_suffixes(rest)
    with pytest.raises(BadRequest):
        parse_suffixes((), required=True)


def test_a_clean_partition_is_not_rewritten(tmp_path: Path) -> None:
    # A replication pass asks every partition for its hashes; one with
    # nothing dirty must cost a read, not a durable rewrite each time.
    device = tmp_path / "sda"
    loc = tombstone(device, "o", "1700000000.00000")
    first = get_hashes(loc.part_dir, device / "tmp", fsync=False)
    stored = loc.part_dir / "hashes.msgpack"
    written = stored.stat()
    assert get_hashes(loc.part_dir, device / "tmp", fsync=False) == first
    again = stored.stat()  # atomic writes rename a new file in
    assert (again.st_ino, again.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    before = stored.read_bytes()
    tombstone(device, "o2", "1700000001.00000")  # a write dirties: rewritten
    get_hashes(loc.part_dir, device / "tmp", fsync=False)
    assert stored.read_bytes() != before


def test_a_clean_partition_is_read_without_its_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    device = tmp_path / "sda"
    loc = tombstone(device, "o", "1700000000.00000")
    first = get_hashes(loc.part_dir, device / "tmp", fsync=False)

    def no_lock(part_dir: Path) -> None:
        raise AssertionError("a clean partition took its lock")

    monkeypatch.setattr(ph, "partition_lock", no_lock)
    assert get_hashes(loc.part_dir, device / "tmp", fsync=False) == first
    (loc.part_dir / "hashes.invalid").write_text(loc.suffix + "\n")  # dirty: under the lock again
    with pytest.raises(AssertionError, match="took its lock"):
        get_hashes(loc.part_dir, device / "tmp", fsync=False)


def test_hashes_rewritten_while_read_without_the_lock_are_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = tmp_path / "sda"
    loc = tombstone(device, "o", "1700000000.00000")
    stale = get_hashes(loc.part_dir, device / "tmp", fsync=False)
    tombstone(device, "o", "1700000001.00000")  # hashes.invalid names the suffix
    real_invalid_size = ph._invalid_size

    def rival_rehashes_first(part_dir: Path) -> int:
        # Between our read of hashes.msgpack and our look at hashes.invalid,
        # someone rehashes: a new hashes.msgpack, an empty hashes.invalid.
        monkeypatch.setattr(ph, "_invalid_size", real_invalid_size)
        get_hashes(loc.part_dir, device / "tmp", fsync=False)
        return real_invalid_size(part_dir)

    monkeypatch.setattr(ph, "_invalid_size", rival_rehashes_first)
    assert ph._clean_hashes(loc.part_dir) is None  # what we read is no longer the file
    fresh = get_hashes(loc.part_dir, device / "tmp", fsync=False)
    assert fresh != stale and ph._clean_hashes(loc.part_dir) == fresh


def test_a_partition_that_cannot_be_hashed_is_left_out_of_a_batch(tmp_path: Path) -> None:
    device = tmp_path / "sda"
    good = tombstone(device, "o", "1700000000.00000")
    bad = df.object_location(device, good.partition + 1, "a", "c", "p")
    df.write_marker(bad, ObjectMetadata(name="/a/c/p", timestamp=Timestamp.parse("1700000000.00000")),
                    df.TOMBSTONE, fsync=False)
    (bad.part_dir / "hashes.msgpack").mkdir()  # unreadable and unwritable: get_hashes raises
    layout = DeviceLayout(device)
    answer = ph.hashes_of_partitions(layout, 0, [good.partition, bad.partition, 9], None, fsync=False)
    assert answer == {good.partition: get_hashes(good.part_dir, device / "tmp", fsync=False), 9: {}}


def _generation(part_dir: Path) -> int:
    return int(msgpack.unpackb((part_dir / "hashes.msgpack").read_bytes())["gen"])


def test_a_dirty_partition_is_rewritten_once(tmp_path: Path) -> None:
    # Each rewrite is a durable atomic write (two fsyncs): a pass over a
    # partition with dirty suffixes pays it once, after hashing.
    device = tmp_path / "sda"
    loc = tombstone(device, "o", "1700000000.00000")
    get_hashes(loc.part_dir, device / "tmp", fsync=False)
    assert _generation(loc.part_dir) == 1
    tombstone(device, "o2", "1700000001.00000")
    tombstone(device, "o3", "1700000002.00000")
    get_hashes(loc.part_dir, device / "tmp", fsync=False)
    assert _generation(loc.part_dir) == 2
    assert (loc.part_dir / "hashes.invalid").read_text() == ""


def _hash_with_interference(monkeypatch: pytest.MonkeyPatch, interfere: Callable[[], None]) -> None:
    """Make the first suffix hashing run ``interfere`` (a real write or a
    real rival rehash) just after it hashed: a race no test can time for real."""
    original = ph.hash_suffix
    calls: list[Path] = []

    def hash_suffix(suffix_dir: Path, reclaim_age: float | None, now: float | None = None) -> str | None:
        value = original(suffix_dir, reclaim_age, now)
        if not calls:
            calls.append(suffix_dir)
            interfere()  # what was just hashed is stale now
        return value

    monkeypatch.setattr(ph, "hash_suffix", hash_suffix)


def test_a_write_during_hashing_is_not_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    device = tmp_path / "sda"
    loc = tombstone(device, "o", "1700000000.00000")
    # The write lands after hashing began: the line it appends is past the
    # size read at the start, so its suffix stays dirty and is hashed again.
    def write() -> None:
        tombstone(device, "o", "1700000005.00000")

    _hash_with_interference(monkeypatch, write)
    hashes = get_hashes(loc.part_dir, device / "tmp", fsync=False)
    expected = hashlib.md5(f"{loc.hash}/1700000005.00000.ts\n".encode()).hexdigest()
    assert hashes == {loc.suffix: expected}
    monkeypatch.undo()
    assert get_hashes(loc.part_dir, device / "tmp", fsync=False) == hashes


def test_a_rival_rewrite_during_hashing_starts_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    device = tmp_path / "sda"
    loc = tombstone(device, "o", "1700000000.00000")
    get_hashes(loc.part_dir, device / "tmp", fsync=False)
    tombstone(device, "o", "1700000003.00000")

    def rival() -> None:
        # Another asker (a peer's REPLICATE) rehashes and rewrites first,
        # then a newer write dirties the suffix again.
        monkeypatch.undo()
        get_hashes(loc.part_dir, device / "tmp", fsync=False)
        tombstone(device, "o", "1700000004.00000")

    _hash_with_interference(monkeypatch, rival)
    hashes = get_hashes(loc.part_dir, device / "tmp", fsync=False)
    expected = hashlib.md5(f"{loc.hash}/1700000004.00000.ts\n".encode()).hexdigest()
    assert hashes == {loc.suffix: expected}
