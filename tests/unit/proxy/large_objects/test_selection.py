"""Which bytes of a large object a read asks for: part numbers (SLO only),
ranges (one only for a DLO), and If-Range."""

from __future__ import annotations

import pytest

from martlet.conditional import http_date
from martlet.errors import BadRequest, RangeNotSatisfiable
from martlet.ranges import ByteRange
from proxy.large_objects.selection import parse_part_number, part_range, select

LENGTHS = [1000, 2000, 3]
TOTAL = sum(LENGTHS)
ETAG = "0123456789abcdef0123456789abcdef"
MODIFIED = 1_700_000_000


def slo(query: dict[str, str] | None = None, **headers: str):  # type: ignore[no-untyped-def]
    return select({k.replace("_", "-"): v for k, v in headers.items()}, query or {}, TOTAL, ETAG, MODIFIED,
                  LENGTHS)


def dlo(**headers: str):  # type: ignore[no-untyped-def]
    return select({k.replace("_", "-"): v for k, v in headers.items()}, {}, TOTAL, ETAG, MODIFIED, None)


def test_part_numbers_are_integers_above_zero() -> None:
    assert parse_part_number(None) is None
    assert parse_part_number("3") == 3
    for bad in ("0", "-2", "1.5", "x", ""):
        with pytest.raises(BadRequest, match="Part number must be an integer greater than 0"):
            parse_part_number(bad)


def test_a_part_is_one_segment_of_the_whole() -> None:
    assert part_range(LENGTHS, 1) == ByteRange(0, 999)
    assert part_range(LENGTHS, 2) == ByteRange(1000, 2999)
    assert part_range(LENGTHS, 3) == ByteRange(3000, 3002)
    assert part_range(LENGTHS, 4) is None


def test_an_slo_part_is_a_206_with_the_parts_count() -> None:
    chosen = slo({"part-number": "2"})
    assert (chosen.status, chosen.ranges, dict(chosen.headers)) == (206, [ByteRange(1000, 2999)],
                                                                    {"X-Parts-Count": "3"})
    with pytest.raises(RangeNotSatisfiable) as beyond:
        slo({"part-number": "4"})
    assert beyond.value.reason == "The requested part number is not satisfiable"
    assert beyond.value.headers == {"Content-Range": f"bytes */{TOTAL}", "X-Parts-Count": "3"}
    with pytest.raises(BadRequest, match="not supported with part number"):
        slo({"part-number": "1"}, Range="bytes=0-1")
    assert slo({"part-number": "1"}, Range="junk").ranges == [ByteRange(0, 999)]  # an unparsable Range is none


def test_a_dlo_has_no_parts_and_one_range_at_most() -> None:
    assert select({}, {"part-number": "0"}, TOTAL, ETAG, MODIFIED, None).status == 200
    assert dlo(Range="bytes=0-4,10-14").ranges is None
    assert dlo(Range="bytes=5-9").ranges == [ByteRange(5, 9)]
    assert slo(Range="bytes=0-4,10-14").ranges == [ByteRange(0, 4), ByteRange(10, 14)]
    with pytest.raises(RangeNotSatisfiable):
        dlo(Range=f"bytes={TOTAL}-")


def test_if_range_keeps_the_range_only_for_the_same_object() -> None:
    assert slo(Range="bytes=0-9", If_Range=f'"{ETAG}"').ranges == [ByteRange(0, 9)]
    assert slo(Range="bytes=0-9", If_Range=http_date(MODIFIED)).ranges == [ByteRange(0, 9)]
    assert slo(Range="bytes=0-9", If_Range='"stale"').ranges is None
    assert slo(Range="bytes=0-9", If_Range=http_date(MODIFIED - 60)).ranges is None
    assert slo(If_Range='"stale"').ranges is None  # no Range: nothing to ignore
