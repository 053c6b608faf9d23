"""ops.status: ring figures and the rendered report (pure parts)."""

from __future__ import annotations

from array import array

from ops.status import ClusterStatus, NodeStatus, RingReport, device_rows, human_age, node_devices, render
from ring.device import Device


def dev(i: int, weight: float = 100.0, ip: str = "10.0.0.1") -> Device:
    return Device(i, 1, i + 1, ip, 6200 + i, f"d{i}", weight)


def test_rows_count_partitions_and_balance_by_weight() -> None:
    devices = [dev(0), dev(1, 200.0), None, dev(3, 0.0)]
    # 2 replicas x 6 partitions: device 0 holds 5, device 1 holds 7.
    assignment = [array("H", [0, 0, 0, 1, 1, 1]), array("H", [1, 1, 1, 1, 0, 0])]
    rows = device_rows(devices, assignment, 6)
    assert [(r.dev.id, r.partitions) for r in rows] == [(0, 5), (1, 7), (3, 0)]
    # Targets by weight: 12 * 1/3 = 4 and 12 * 2/3 = 8.
    assert [r.balance for r in rows] == [25.0, -12.5, 0.0]
    report = RingReport("object", 6, 2, rows)
    assert report.balance == 25.0


def test_node_devices_come_from_every_ring() -> None:
    rows = device_rows([dev(0), dev(1, ip="10.0.0.2")], [array("H", [0, 1])], 2)
    more = device_rows([dev(0), dev(1, ip="::1")], [array("H", [0, 1])], 2)
    got = node_devices([RingReport("account", 2, 1, rows), RingReport("object", 2, 1, more)])
    assert got == {"10.0.0.1:6200": ("d0",), "10.0.0.2:6201": ("d1",), "[::1]:6201": ("d1",)}


def node(address: str, devices: tuple[str, ...], recon: dict | None, error: str = "") -> NodeStatus:
    return NodeStatus(address, recon is not None, error, recon or {}, devices)


def test_render_shows_reachability_usage_queues_and_pass_ages() -> None:
    now = 1_000_000.0
    up = node("10.0.0.1:6200", ("d0",), {
        "devices": [{"device": "d0", "mounted": True, "size": 10 * 2**30, "used": 2**30, "async_pending": 3},
                    {"device": "stray", "mounted": True, "size": 1, "used": 1, "async_pending": 50}],
        "passes": {"object-replicator": {"finished_at": now - 42, "failures": 0},
                   "auditor": {"finished_at": now - 7200, "failures": 2}},
    })
    down = node("10.0.0.2:6201", ("d1",), None, "Connection refused")
    rows = device_rows([dev(0), dev(1, ip="10.0.0.2")], [array("H", [0, 1])], 2)
    status = ClusterStatus(now, (RingReport("object", 2, 1, rows),), (up, down))
    text = render(status)
    assert "object ring: 2 partitions, 1 replicas, 2 devices, balance 0.00" in text
    assert "storage nodes: 1/2 reachable" in text
    line = next(l for l in text.splitlines() if l.strip().startswith("10.0.0.1:6200"))
    assert " up " in line and "1/1" in line and "1.0 GiB / 10.0 GiB" in line
    assert " 3 " in line, "the stray directory's queue is not this node's"
    assert "42s ago" in line and "never" in line and "2.0h ago, 2 failures" in line
    assert "UNREACHABLE (Connection refused)" in text
    assert not status.healthy


def test_an_unmounted_ring_device_makes_the_cluster_unhealthy() -> None:
    ok = node("10.0.0.1:6200", ("d0",), {"devices": [{"device": "d0", "mounted": True}], "passes": {}})
    assert ClusterStatus(0.0, (), (ok,)).healthy
    missing = node("10.0.0.1:6200", ("d0", "d9"), {"devices": [{"device": "d0", "mounted": True}]})
    status = ClusterStatus(0.0, (), (missing,))
    assert not status.healthy
    assert "unmounted: d9" in render(status)


def test_human_age() -> None:
    assert [human_age(s) for s in (5, 300, 10_800, 400_000)] == ["5s", "5m", "3.0h", "4.6d"]


def test_render_shows_the_updaters_last_pass_and_its_failed_updates() -> None:
    now = 1_000_000.0
    up = node("10.0.0.1:6200", ("d0",), {
        "devices": [{"device": "d0", "mounted": True, "size": 2**30, "used": 2**20, "async_pending": 4}],
        "passes": {"updater": {"finished_at": now - 5, "sent": 6, "failed": 4},
                   "expirer": {"finished_at": now - 7, "deleted": 3, "failures": 1}},
    })
    rows = device_rows([dev(0)], [array("H", [0])], 1)
    text = render(ClusterStatus(now, (RingReport("object", 1, 1, rows),), (up,)))
    header = next(l for l in text.splitlines() if "async_pending" in l)
    assert header.split()[-2:] == ["updates", "expiry"]
    line = next(l for l in text.splitlines() if l.strip().startswith("10.0.0.1:6200"))
    assert "5s ago, 4 failures" in line
    assert line.rstrip().endswith("7s ago, 1 failures")


def test_rings_show_an_ipv6_device_in_brackets_as_node_addresses_are() -> None:
    rows = device_rows([dev(0, ip="::1")], [array("H", [0, 0])], 2)
    report = RingReport("object", 2, 1, rows)
    text = render(ClusterStatus(0.0, (report,), ()))
    assert "[::1]:6200" in text
    assert node_devices([report]) == {"[::1]:6200": ("d0",)}
