"""The proxy's rings: loaded at start, swapped in by a background task when a
ring file changes (no request needed), gone after close."""

from __future__ import annotations

import asyncio
import time
from array import array
from pathlib import Path

import pytest

from martlet.errors import RingError, ServiceUnavailable
from martlet.hashing import HashSection
from proxy.rings import MIN_CHECK_INTERVAL, RingWatcher
from ring import Device, Ring, save_ring

HASH = HashSection(path_prefix="", path_suffix="test")


def write_ring(path: Path, version: int) -> None:
    devices: list[Device | None] = [Device(i, 1, i + 1, "127.0.0.1", 6200 + i, f"d{i}", 1.0) for i in range(3)]
    assignment = [array("H", ((p + r) % 3 for p in range(16))) for r in range(3)]
    save_ring(Ring(4, devices, assignment, HASH, version=version), path)


async def wait_for_version(watcher: RingWatcher, kind: str, version: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while watcher.ring(kind).version != version:
        assert time.monotonic() < deadline, f"{kind} ring version {version} not picked up in {timeout}s"
        await asyncio.sleep(0.02)


async def test_a_changed_ring_file_is_picked_up_without_a_request(tmp_path: Path) -> None:
    paths = {kind: tmp_path / f"{kind}.ring" for kind in ("account", "object")}
    for path in paths.values():
        write_ring(path, version=1)
    watcher = RingWatcher(paths, HASH, check_interval=0.05)
    with pytest.raises(ServiceUnavailable):
        watcher.ring("object")  # not started
    await watcher.start()
    try:
        first = watcher.ring("object")
        assert first.version == 1 and first.hash_settings == HASH
        write_ring(paths["object"], version=2)
        await wait_for_version(watcher, "object", 2)
        assert watcher.ring("account").version == 1
    finally:
        await watcher.close()
    with pytest.raises(ServiceUnavailable):
        watcher.ring("object")


async def test_start_needs_every_ring_and_close_stops_at_once(tmp_path: Path) -> None:
    write_ring(tmp_path / "object.ring", version=1)
    missing = RingWatcher({"object": tmp_path / "object.ring", "account": tmp_path / "none.ring"}, HASH, 15.0)
    with pytest.raises(RingError):
        await missing.start()
    watcher = RingWatcher({"object": tmp_path / "object.ring"}, HASH, check_interval=3600.0)
    await watcher.start()
    started = time.monotonic()
    await watcher.close()  # does not wait out the interval
    assert time.monotonic() - started < 1.0


def test_an_interval_of_zero_does_not_spin() -> None:
    assert RingWatcher({}, HASH, check_interval=0.0).check_interval == MIN_CHECK_INTERVAL
