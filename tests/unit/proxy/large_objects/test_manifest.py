"""SLO manifests, pure: the PUT form, segment checks, ETags, stored and raw forms."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from martlet.errors import BadRequest, EntityTooLarge
from martlet.ranges import ByteRange, RangeSpec
from proxy.large_objects.manifest import (
    TOO_SMALL, CorruptManifest, Segment, SegmentHead, SegmentRequest, check_segment, data_segment,
    parse_put_manifest, parse_stored_manifest, problems_body, raw_json, slo_etag, stored_json, total_length,
)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def put(items: object, max_segments: int = 1000) -> list[SegmentRequest]:
    return parse_put_manifest(json.dumps(items).encode(), max_segments)


def test_put_form_items_are_normalized() -> None:
    items = put([
        {"path": "segs/a", "etag": '"ABC"', "size_bytes": 5},
        {"path": "/segs/b/with/slashes", "etag": None, "size_bytes": None, "range": "1-3"},
        {"path": "/segs/c"},
    ])
    assert items[0] == SegmentRequest(0, "/segs/a", "abc", 5)
    assert items[1] == SegmentRequest(1, "/segs/b/with/slashes", None, None, RangeSpec(1, 3))
    assert items[2] == SegmentRequest(2, "/segs/c")
    # Errors name a segment as the client wrote it, as Swift's do.
    assert [i.sent_path for i in items] == ["segs/a", "/segs/b/with/slashes", "/segs/c"]


def test_data_segments_decode() -> None:
    items = put([{"data": base64.b64encode(b"hello").decode()}])
    assert items == [SegmentRequest(0, data=b"hello")]


@pytest.mark.parametrize("body, reason", [
    (b"not json", "Manifest must be valid JSON."),
    (b'{"path": "/a/b"}', "Manifest must be a list."),
    (b"[]", "Manifest must have at least one segment."),
])
def test_bad_documents(body: bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_put_manifest(body, 10)
    assert caught.value.reason == reason


def test_every_bad_item_is_listed_by_index() -> None:
    with pytest.raises(BadRequest) as caught:
        put([
            "a string",
            {"path": "no-object"},
            {"path": "/c/o", "size_bytes": -1, "etag": 5},
            {"path": "/c/o", "range": "5-1"},
            {"path": "/c/o", "range": "1-2,4-5"},
            {"path": "/c/o", "colour": "red"},
            {"data": "***"},
            {"data": ""},
            {"path": "/c/good"},
        ])
    lines = caught.value.reason.splitlines()
    assert lines == [
        "Index 0: not a JSON object",
        "Index 1: path does not refer to an object. Path must be of the form /container/object.",
        "Index 2: etag must be a string or null",
        "Index 2: invalid size_bytes",
        "Index 3: invalid range",
        "Index 4: multiple ranges (only one allowed)",
        "Index 5: extraneous keys colour",
        "Index 6: invalid data",
        "Index 7: too small; each segment must be at least 1 byte.",
    ]


def test_too_many_segments_is_413() -> None:
    with pytest.raises(EntityTooLarge) as caught:
        put([{"path": "/c/o"}] * 4, max_segments=3)
    assert caught.value.reason == "Number of segments must be <= 3"


HEAD_OK = SegmentHead(200, size=10, etag="e1", content_type="text/plain", last_modified="2024-01-01T00:00:00.000000")


def check(request: SegmentRequest, head: SegmentHead = HEAD_OK, max_depth: int = 10):  # type: ignore[no-untyped-def]
    return check_segment(request, head, "/c/manifest", max_depth)


def test_a_good_segment_becomes_a_stored_segment() -> None:
    segment, problems = check(SegmentRequest(0, "/s/a", "e1", 10))
    assert problems == []
    assert segment == Segment("/s/a", 10, "e1", None, False, "text/plain", "2024-01-01T00:00:00.000000")


def test_segment_problems_in_swifts_words() -> None:
    assert check(SegmentRequest(0, "/s/a"), SegmentHead(404))[1] == ["404 Not Found"]
    assert check(SegmentRequest(0, "/s/a", "other"))[1] == ["Etag Mismatch"]
    assert check(SegmentRequest(0, "/s/a", None, 11))[1] == ["Size Mismatch"]
    assert check(SegmentRequest(0, "/s/a", "x", 11))[1] == ["Size Mismatch", "Etag Mismatch"]
    assert check(SegmentRequest(0, "/s/a", range=RangeSpec(10, 20)))[1] == ["Unsatisfiable Range"]
    assert check(SegmentRequest(0, "/s/a"), SegmentHead(200, size=0, etag="e"))[1] == [TOO_SMALL]
    assert check(SegmentRequest(0, "/c/manifest"))[1] == ["Manifest cannot reference itself"]
    assert check(SegmentRequest(0, "/s/a"), SegmentHead(200, 5, "e", is_dlo=True))[1] == [
        "Segment is a dynamic large object manifest"]
    assert check(SegmentRequest(0, "/s/a"), SegmentHead(409))[1] == ["Segment is a broken manifest"]


def test_ranges_are_resolved_and_a_whole_range_dropped() -> None:
    segment, _ = check(SegmentRequest(0, "/s/a", range=RangeSpec(None, 4)))
    assert segment is not None and segment.range == ByteRange(6, 9) and segment.length == 4
    segment, _ = check(SegmentRequest(0, "/s/a", range=RangeSpec(0, 99)))
    assert segment is not None and segment.range is None and segment.length == 10


def test_nested_slo_depth_is_limited() -> None:
    sub = SegmentHead(200, size=100, etag="slo", is_slo=True, slo_depth=2)
    segment, problems = check(SegmentRequest(0, "/s/sub"), sub, max_depth=3)
    assert problems == [] and segment is not None and segment.sub_slo
    _, problems = check(SegmentRequest(0, "/s/sub"), sub, max_depth=2)
    assert problems == ["Too deeply nested (max depth 2)"]


def test_slo_etag_is_md5_of_segment_etags() -> None:
    a, b = b"a" * 5, b"b" * 7
    segments = [Segment("/s/a", 5, md5(a)), Segment("/s/b", 7, md5(b))]
    assert slo_etag(segments) == md5((md5(a) + md5(b)).encode())
    assert total_length(segments) == 12


def test_slo_etag_of_ranged_and_data_segments() -> None:
    ranged = Segment("/s/a", 10, "e1", ByteRange(2, 5))
    data = data_segment(b"inline")
    expected = md5(b"e1:2-5;" + md5(b"inline").encode())
    assert slo_etag([ranged, data]) == expected
    assert total_length([ranged, data]) == 4 + 6


def test_stored_form_round_trips() -> None:
    segments = [
        Segment("/s/a", 10, "e1", ByteRange(2, 5), False, "text/plain", "2024-01-01T00:00:00.000000"),
        Segment("/s/sub", 99, "e2", None, True, "application/octet-stream", "2024-01-02T00:00:00.000000"),
        data_segment(b"xyz"),
    ]
    body = stored_json(segments)
    items = json.loads(body)
    assert items[0] == {"name": "/s/a", "bytes": 10, "hash": "e1", "content_type": "text/plain",
                        "last_modified": "2024-01-01T00:00:00.000000", "range": "2-5"}
    assert items[1]["sub_slo"] is True and "range" not in items[1]
    assert items[2] == {"data": base64.b64encode(b"xyz").decode()}
    assert parse_stored_manifest(body) == segments


def test_raw_form_can_be_put_back() -> None:
    segments = [Segment("/s/a", 10, "e1", ByteRange(2, 5)), Segment("/s/b", 3, "e3"), data_segment(b"q")]
    raw = json.loads(raw_json(segments))
    assert raw == [{"path": "/s/a", "etag": "e1", "size_bytes": 10, "range": "2-5"},
                   {"path": "/s/b", "etag": "e3", "size_bytes": 3},
                   {"data": base64.b64encode(b"q").decode()}]
    again = parse_put_manifest(raw_json(segments), 10)
    assert [r.path for r in again] == ["/s/a", "/s/b", None]


@pytest.mark.parametrize("body", [b"{", b"{}", b"[1]", b'[{"name": "/nocontainer"}]',
                                  b'[{"name": "/c/o", "bytes": "1", "hash": "e"}]',
                                  b'[{"name": "/c/o", "bytes": 3, "hash": "e", "range": "7-9"}]'])
def test_corrupt_stored_manifests(body: bytes) -> None:
    with pytest.raises(CorruptManifest):
        parse_stored_manifest(body)


def test_problem_bodies() -> None:
    problems = [("/segs/a b", "404 Not Found"), ("/segs/c", "Etag Mismatch")]
    content_type, body = problems_body(problems, None)
    assert content_type == "text/plain"
    assert body.decode() == "Errors:\n/segs/a%20b, 404 Not Found\n/segs/c, Etag Mismatch\n"
    content_type, body = problems_body(problems, "application/json")
    assert content_type == "application/json"
    assert json.loads(body) == {"Errors": [["/segs/a%20b", "404 Not Found"], ["/segs/c", "Etag Mismatch"]]}


def test_data_segment_is_its_own_md5() -> None:
    segment = data_segment(b"abc")
    assert segment.etag == md5(b"abc") and segment.length == 3 and segment.name is None


def test_only_the_last_segment_may_be_empty() -> None:
    # Swift's SLO allows an empty last segment (an S3 upload of one empty part).
    empty = SegmentHead(200, size=0, etag="e", content_type="text/plain", last_modified="2024-01-01T00:00:00.000000")
    segment, problems = check_segment(SegmentRequest(0, "/s/a"), empty, "/c/manifest", 10, allow_empty=True)
    assert problems == [] and segment is not None and segment.size == 0
    assert check_segment(SegmentRequest(0, "/s/a"), empty, "/c/manifest", 10)[1] == [TOO_SMALL]
