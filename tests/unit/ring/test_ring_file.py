"""Ring files: round trip, atomic writes, and loud failure on bad files."""

from __future__ import annotations

import gzip
import logging
import os
import struct
from array import array
from pathlib import Path

import numpy as np
import pytest

from martlet.errors import RingError
from martlet.hashing import HashSection
from ring import Device, Ring, RingReloader, load_ring, save_ring
from ring.ring_file import FORMAT_VERSION, RING_MAGIC, ring_bytes

CHANGEME = HashSection(path_prefix="", path_suffix="changeme")


def make_ring(part_power: int = 6, shift: int = 0, version: int = 1) -> Ring:
    devices: list[Device | None] = [
        Device(i, 1, i + 1, f"127.0.0.{i + 1}", 6200 + i, f"d{i}", 100.0, meta=f"m{i}") for i in range(4)
    ]
    devices.append(None)
    parts = 1 << part_power
    r2p2d = [array("H", ((p + r + shift) % 4 for p in range(parts))) for r in range(3)]
    return Ring(part_power, devices, r2p2d, CHANGEME, version=version)


def test_round_trip(tmp_path: Path) -> None:
    ring = make_ring()
    path = tmp_path / "object.ring"
    save_ring(ring, path)
    loaded = load_ring(path, CHANGEME)
    assert loaded.devices == ring.devices
    assert loaded.replica2part2dev == ring.replica2part2dev
    assert loaded.version == 1
    assert loaded.get_nodes("a", "c", "o") == ring.get_nodes("a", "c", "o")
    raw = gzip.decompress(path.read_bytes())
    assert raw[:8] == RING_MAGIC
    assert struct.unpack(">H", raw[8:10])[0] == FORMAT_VERSION
    assert b"pickle" not in raw and b"\x80\x04" not in raw[:20]


def test_hash_settings_come_from_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "object.ring"
    save_ring(make_ring(10), path)
    assert load_ring(path, CHANGEME).get_part("a", "c", "o") == 189
    assert load_ring(path, HashSection("x", "y")).hash_settings == HashSection("x", "y")


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "object.ring"
    save_ring(make_ring(), path)
    before = path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        save_ring(make_ring(shift=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["object.ring"]


@pytest.mark.parametrize("cut", [5, 30, -9, -1])
def test_truncated_file_is_an_error(tmp_path: Path, cut: int) -> None:
    data = ring_bytes(make_ring())
    path = tmp_path / "object.ring"
    path.write_bytes(data[:cut])
    with pytest.raises(RingError):
        load_ring(path)


def test_corrupt_bytes_are_an_error(tmp_path: Path) -> None:
    data = bytearray(ring_bytes(make_ring()))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "object.ring"
    path.write_bytes(bytes(data))
    with pytest.raises(RingError):
        load_ring(path)


def _rewrap(data: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    return gzip.compress(edit(gzip.decompress(data)))


def test_wrong_version_magic_or_payload_is_an_error(tmp_path: Path) -> None:
    data = ring_bytes(make_ring())
    path = tmp_path / "object.ring"
    cases = {
        "format version 2": lambda raw: raw[:8] + struct.pack(">H", 2) + raw[10:],
        "bad magic": lambda raw: b"MARTBLDR" + raw[8:],
        "truncated array": lambda raw: raw[:-2],
        "trailing": lambda raw: raw + b"\0\0",
    }
    for message, edit in cases.items():
        path.write_bytes(_rewrap(data, edit))
        with pytest.raises(RingError, match=message):
            load_ring(path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(RingError, match="gzip"):
        load_ring(path)


def test_missing_file_is_a_ring_error(tmp_path: Path) -> None:
    with pytest.raises(RingError, match="cannot read"):
        load_ring(tmp_path / "nope.ring")


def test_assignment_to_unknown_device_in_file_is_refused(tmp_path: Path) -> None:
    ring = make_ring(2)

    def point_at_removed(raw: bytes) -> bytes:
        # The last array's last entry is the final two bytes; id 4 is None.
        return raw[:-2] + struct.pack("<H", 4)

    path = tmp_path / "object.ring"
    path.write_bytes(_rewrap(ring_bytes(ring), point_at_removed))
    with pytest.raises(RingError, match="device 4"):
        load_ring(path)


def test_reloader_swaps_in_a_changed_file_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "object.ring"
    save_ring(make_ring(version=1), path)
    reloader = RingReloader(path, CHANGEME)
    first = reloader.ring
    assert first.version == 1
    save_ring(make_ring(shift=1, version=2), path)
    assert reloader.ring is first  # a lookup never touches the file
    assert reloader.reload_if_changed()
    second = reloader.ring
    assert second.version == 2
    assert second.hash_settings == CHANGEME
    assert not reloader.reload_if_changed()
    assert reloader.ring is second  # unchanged file: same object


def test_reloader_keeps_old_ring_on_bad_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "object.ring"
    save_ring(make_ring(version=1), path)
    reloader = RingReloader(path)
    good = reloader.ring
    path.write_bytes(ring_bytes(make_ring(version=2))[:40])
    with caplog.at_level(logging.WARNING, logger="ring.ring_file"):
        assert not reloader.reload_if_changed()
    assert reloader.ring is good
    assert "bad" in caplog.text
    path.unlink()
    assert not reloader.reload_if_changed()
    assert reloader.ring is good
    save_ring(make_ring(version=3), path)
    assert reloader.reload_if_changed()
    assert reloader.ring.version == 3


def test_reloader_needs_a_good_file_to_start(tmp_path: Path) -> None:
    with pytest.raises(RingError):
        RingReloader(tmp_path / "missing.ring")


def test_arrays_are_little_endian_raw_bytes() -> None:
    ring = make_ring(4)
    raw = gzip.decompress(ring_bytes(ring))
    expected = b"".join(np.frombuffer(a, dtype=np.uint16).astype("<u2").tobytes() for a in ring.replica2part2dev)
    assert raw.endswith(expected)
