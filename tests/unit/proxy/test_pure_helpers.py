from dataclasses import dataclass

from proxy.controllers.base import last_modified, slot_headers
from proxy.controllers.object_read import resume_range
from proxy.state import TTLCache


@dataclass(frozen=True)
class Node:
    ip: str
    port: int
    device: str


def test_resume_range_whole_and_single_range():
    assert resume_range(200, {"Content-Length": "100"}, 40) == (40, 99)
    assert resume_range(206, {"Content-Range": "bytes 10-19/100"}, 4) == (14, 19)
    assert resume_range(206, {"Content-Type": "multipart/byteranges; boundary=x"}, 4) is None
    assert resume_range(200, {}, 4) is None
    assert resume_range(304, {"Content-Length": "0"}, 0) is None


def test_slot_headers_spread_updates_over_row_replicas():
    nodes = [Node("127.0.0.1", 6210, "d1"), Node("::1", 6220, "d2")]
    slots = slot_headers({"X-Timestamp": "1"}, 3, nodes, 7, "Container")
    assert [s["X-Container-Host"] for s in slots] == ["127.0.0.1:6210", "[::1]:6220", "127.0.0.1:6210"]
    assert all(s["X-Container-Partition"] == "7" and s["X-Timestamp"] == "1" for s in slots)
    assert slot_headers({"A": "b"}, 2, [], 0, "Account") == [{"A": "b"}, {"A": "b"}]


def test_ttl_cache():
    cache: TTLCache[int] = TTLCache(ttl=60)
    cache.put("a", 1)
    assert cache.get("a") == 1
    cache.pop("a")
    assert cache.get("a") is None
    off: TTLCache[int] = TTLCache(ttl=0)
    off.put("a", 1)
    assert off.get("a") is None


def test_last_modified_rounds_up_to_whole_seconds():
    # Never older than the write: 1700000000.00001 is dated 22:13:21, not :20.
    assert last_modified("1700000000.00001") == "Tue, 14 Nov 2023 22:13:21 GMT"
    assert last_modified("1700000000.50000") == "Tue, 14 Nov 2023 22:13:21 GMT"
    assert last_modified("1699999999.99999") == "Tue, 14 Nov 2023 22:13:20 GMT"
