from martlet.swift_path import SwiftPath
from proxy.replicas import last_modified, pair_by_host, parent_of, slot_headers
from ring import Device


def node(ip: str, port: int, device: str) -> Device:
    return Device(id=0, region=1, zone=1, ip=ip, port=port, device=device, weight=1.0)


def test_slot_headers_spread_updates_over_row_replicas():
    nodes = [node("127.0.0.1", 6210, "d1"), node("::1", 6220, "d2")]
    slots = slot_headers({"X-Timestamp": "1"}, 3, nodes, 7, "Container")
    assert [s["X-Container-Host"] for s in slots] == ["127.0.0.1:6210", "[::1]:6220", "127.0.0.1:6210"]
    assert all(s["X-Container-Partition"] == "7" and s["X-Timestamp"] == "1" for s in slots)
    assert slot_headers({"A": "b"}, 2, [], 0, "Account") == [{"A": "b"}, {"A": "b"}]


def test_a_write_updates_the_listing_it_shows_in():
    assert parent_of(SwiftPath("a", "c", "o/p")) == SwiftPath("a", "c")
    assert parent_of(SwiftPath("a", "c")) == SwiftPath("a")
    assert parent_of(SwiftPath("a")) is None


def test_last_modified_rounds_up_to_whole_seconds():
    # Never older than the write: 1700000000.00001 is dated 22:13:21, not :20.
    assert last_modified("1700000000.00001") == "Tue, 14 Nov 2023 22:13:21 GMT"
    assert last_modified("1700000000.50000") == "Tue, 14 Nov 2023 22:13:21 GMT"
    assert last_modified("1699999999.99999") == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_each_writer_updates_the_row_replica_on_its_own_host_where_there_is_one():
    a, b, c, d = (node("127.0.0.1", port, f"d{port}") for port in (6010, 6020, 6030, 6040))
    # Objects on b, c, d; rows on a, b, c: b and c keep their own host's
    # row, d gets what is left (a).
    assert pair_by_host([b, c, d], [a, b, c]) == [b, c, a]
    assert pair_by_host([d, c, b], [a, b, c]) == [a, c, b]
    # No host in common: ring order, as before.
    assert pair_by_host([d], [a]) == [a]
    # Counts that differ keep the ring order (slot i takes row i % n).
    assert pair_by_host([a, b, c], [c, b]) == [c, b]
    slots = slot_headers({}, 3, [a, b, c], 7, "Container", writers=[c, d, a])
    assert [s["X-Container-Device"] for s in slots] == ["d6030", "d6020", "d6010"]
