"""Ring lookups over hand-built assignments (no builder involved)."""

from __future__ import annotations

from array import array

import pytest

from martlet.errors import RingError
from martlet.hashing import HashSection
from ring import Device, Ring

CHANGEME = HashSection(path_prefix="", path_suffix="changeme")


def dev(i: int, region: int, zone: int, ip: str = "", weight: float = 100.0) -> Device:
    return Device(i, region, zone, ip or f"10.0.{region}.{i}", 6200, f"d{i}", weight)


def simple_ring(part_power: int = 10, devices: list[Device | None] | None = None) -> Ring:
    devices = devices if devices is not None else [dev(i, 1, i + 1) for i in range(4)]
    live = [d.id for d in devices if d is not None]
    parts = 1 << part_power
    r2p2d = [array("H", (live[(p + r) % len(live)] for p in range(parts))) for r in range(3)]
    return Ring(part_power, devices, r2p2d, CHANGEME)


def test_get_part_matches_pinned_vectors() -> None:
    ring = simple_ring(10)
    assert ring.get_part("a") == 739
    assert ring.get_part("a", "c") == 931
    assert ring.get_part("a", "c", "o") == 189


def test_get_part_uses_prefix_and_suffix() -> None:
    plain = simple_ring(10)
    salted = Ring(10, plain.devices, plain.replica2part2dev, HashSection("pre", "changeme"))
    assert [salted.get_part("a", "c", f"o{i}") for i in range(20)] != [
        plain.get_part("a", "c", f"o{i}") for i in range(20)
    ]


def test_shape_and_get_nodes() -> None:
    ring = simple_ring(8)
    assert (ring.part_power, ring.partition_count, ring.replica_count) == (8, 256, 3)
    part, nodes = ring.get_nodes("AUTH_test", "photos", "cat.jpg")
    assert part == ring.get_part("AUTH_test", "photos", "cat.jpg")
    assert nodes == ring.get_part_nodes(part)
    assert [n.id for n in nodes] == [(part + r) % 4 for r in range(3)]


def test_handoffs_prefer_new_regions_then_zones_then_ips() -> None:
    devices: list[Device | None] = [
        dev(0, 1, 1, "10.0.0.1"),
        dev(1, 1, 2, "10.0.0.2"),
        dev(2, 1, 3, "10.0.0.3"),
        dev(3, 1, 1, "10.0.0.1"),  # same ip as a primary
        dev(4, 1, 1, "10.0.0.9"),  # same zone, new ip
        dev(5, 1, 4, "10.0.0.4"),  # new zone
        dev(6, 2, 1, "10.1.0.1"),  # new region
        dev(7, 2, 1, "10.1.0.2", weight=0.0),  # draining: never a handoff
        None,
    ]
    parts = 4
    r2p2d = [array("H", [r] * parts) for r in range(3)]
    ring = Ring(2, devices, r2p2d, CHANGEME)
    for part in range(parts):
        handoffs = [d.id for d in ring.get_more_nodes(part)]
        assert handoffs == [6, 5, 4, 3]


def test_handoffs_vary_with_partition() -> None:
    devices: list[Device | None] = [dev(i, 1, i + 1) for i in range(12)]
    ring = simple_ring(10, devices)
    firsts = {next(ring.get_more_nodes(p)).id for p in range(64)}
    assert len(firsts) > 3


def test_assignment_naming_missing_device_is_refused() -> None:
    devices: list[Device | None] = [dev(0, 1, 1), None, dev(2, 1, 2)]
    with pytest.raises(RingError, match="device 1"):
        Ring(1, devices, [array("H", [0, 1]), array("H", [2, 2])])
    with pytest.raises(RingError, match="device 7"):
        Ring(1, devices, [array("H", [0, 7])])


def test_wrong_length_or_misnumbered_devices_are_refused() -> None:
    with pytest.raises(RingError, match="expected 4"):
        Ring(2, [dev(0, 1, 1)], [array("H", [0, 0])])
    with pytest.raises(RingError, match="index 0 has id 3"):
        Ring(1, [dev(3, 1, 1)], [array("H", [0, 0])])


def test_handoff_partition_out_of_range() -> None:
    with pytest.raises(RingError):
        list(simple_ring(4).get_more_nodes(16))
