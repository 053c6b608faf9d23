"""storage.layout: every directory name of a device in one place, and the
policy-N names Swift uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from martlet.errors import DeviceUnavailable
from martlet.hashing import HashSection
from storage.db import db_path
from storage.devices import DeviceIO
from storage.diskfile import object_location
from storage.layout import DeviceLayout, stats_file


def test_policy_zero_keeps_the_plain_names(tmp_path: Path) -> None:
    layout = DeviceLayout.of(tmp_path, "sda")
    assert layout.device == "sda"
    assert layout.objects() == tmp_path / "sda" / "objects"
    assert layout.object_partition(7) == tmp_path / "sda" / "objects" / "7"
    assert layout.tmp() == tmp_path / "sda" / "tmp"
    assert layout.async_pending() == tmp_path / "sda" / "async_pending"
    assert layout.databases("container") == tmp_path / "sda" / "containers"
    assert layout.databases("account") == tmp_path / "sda" / "accounts"
    assert layout.quarantined("objects") == tmp_path / "sda" / "quarantined" / "objects"


def test_policy_n_gets_suffixed_object_dirs(tmp_path: Path) -> None:
    layout = DeviceLayout(tmp_path / "sda")
    assert layout.object_partition(3, policy=2) == tmp_path / "sda" / "objects-2" / "3"
    assert layout.tmp(1) == tmp_path / "sda" / "tmp-1"
    assert layout.async_pending(1) == tmp_path / "sda" / "async_pending-1"
    with pytest.raises(ValueError):
        layout.objects(-1)


def test_the_on_disk_code_uses_the_layout(tmp_path: Path) -> None:
    loc = object_location(tmp_path / "sda", 5, "a", "c", "o")
    assert loc.part_dir == DeviceLayout(tmp_path / "sda").object_partition(5)
    assert loc.tmp_dir == DeviceLayout(tmp_path / "sda").tmp()
    path = db_path(tmp_path, "sda", "account", 5, "a", hash_settings=HashSection())
    assert path.is_relative_to(DeviceLayout.of(tmp_path, "sda").databases("account") / "5")


def test_stats_file_default_and_configured(tmp_path: Path) -> None:
    assert stats_file(tmp_path, "auditor") == tmp_path / "auditor.json"
    assert stats_file(tmp_path, "auditor", "/var/run/a.json") == Path("/var/run/a.json")


async def test_device_checks_remember_only_present_devices(tmp_path: Path) -> None:
    io = DeviceIO(tmp_path)
    try:
        (tmp_path / "sda").mkdir()
        assert await io.check("sda") == tmp_path / "sda"
        assert await io.check("sda") == tmp_path / "sda"  # remembered: no thread hop
        for _ in range(2):  # a missing device is looked at every time
            with pytest.raises(DeviceUnavailable):
                await io.check("sdb")
        (tmp_path / "sdb").mkdir()
        assert await io.check("sdb") == tmp_path / "sdb"
    finally:
        io.close()
