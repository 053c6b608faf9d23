import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martlet.errors import RangeNotSatisfiable
from martlet.ranges import (
    ByteRange,
    RangeSpec,
    closing_delimiter,
    is_egregious,
    multipart_length,
    part_header,
    part_separator,
    parse_range_header,
    ranges_for,
)


def test_parse_forms() -> None:
    assert parse_range_header("bytes=0-9") == [RangeSpec(0, 9)]
    assert parse_range_header("bytes=-5") == [RangeSpec(None, 5)]
    assert parse_range_header("bytes=10-") == [RangeSpec(10, None)]
    assert parse_range_header("Bytes = 0-1, 5-") == [RangeSpec(0, 1), RangeSpec(5, None)]


@pytest.mark.parametrize("value", [None, "", "bytes", "items=0-1", "bytes=-", "bytes=a-b", "bytes=5-2", "bytes=1-2-3"])
def test_malformed_headers_are_ignored(value: str | None) -> None:
    assert parse_range_header(value) is None
    assert ranges_for(value, 100) is None


def test_resolution() -> None:
    assert ranges_for("bytes=0-9", 100) == [ByteRange(0, 9)]
    assert ranges_for("bytes=90-200", 100) == [ByteRange(90, 99)]
    assert ranges_for("bytes=-10", 100) == [ByteRange(90, 99)]
    assert ranges_for("bytes=-500", 100) == [ByteRange(0, 99)]
    assert ranges_for("bytes=50-", 100) == [ByteRange(50, 99)]
    # unsatisfiable parts are dropped while at least one fits
    assert ranges_for("bytes=200-300,0-0", 100) == [ByteRange(0, 0)]


@pytest.mark.parametrize("value,total", [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0), ("bytes=200-300,150-", 100)])
def test_unsatisfiable_is_416(value: str, total: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as info:
        ranges_for(value, total)
    assert info.value.headers["Content-Range"] == f"bytes */{total}"


def test_suffix_of_an_empty_body_is_the_whole_body() -> None:
    """Swift (and Apache, nginx) answer 200: no byte to name in a 206."""
    assert ranges_for("bytes=-1", 0) is None
    assert ranges_for("bytes=0-0,-5", 0) is None


def spread(count: int, step: int = 1000) -> str:
    return ",".join(f"{i * step}-{i * step + 9}" for i in range(count))


@pytest.mark.parametrize(
    "fine,egregious",
    [
        # more than 50 satisfiable ranges
        (spread(50), spread(51)),
        # more than two overlapping pairs (sharing one byte is overlapping, touching is not)
        ("10-19,15-24,20-29", "10-20,20-30,30-40,40-50"),
        ("10-19,20-29,30-39,40-49", "0-99,0-99,0-99"),
        # eight or more ranges out of order
        ("100-109,200-209,300-309,500-509,400-409,600-609,700-709",
         "100-109,200-209,300-309,500-509,400-409,600-609,700-709,800-809"),
    ],
)
def test_egregious_ranges_are_refused(fine: str, egregious: str) -> None:
    """RFC 9110 lets a server refuse them; Swift answers 416."""
    assert ranges_for("bytes=" + fine, 1_000_000)
    with pytest.raises(RangeNotSatisfiable) as info:
        ranges_for("bytes=" + egregious, 1_000_000)
    assert info.value.headers["Content-Range"] == "bytes */1000000"
    # only satisfiable ranges count
    assert len(ranges_for("bytes=" + spread(50) + ",2000000-2000001", 1_000_000) or []) == 50


def test_content_range() -> None:
    assert ByteRange(0, 9).content_range(100) == "bytes 0-9/100"


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 5000), st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 6000)), min_size=1, max_size=5))
def test_resolved_ranges_lie_inside_body(total: int, pairs: list[tuple[int, int]]) -> None:
    header = "bytes=" + ",".join(f"{min(a, b)}-{max(a, b)}" for a, b in pairs)
    try:
        resolved = ranges_for(header, total)
    except RangeNotSatisfiable:
        satisfiable = [ByteRange(min(a, b), min(max(a, b), total - 1)) for a, b in pairs if min(a, b) < total]
        assert not satisfiable or is_egregious(satisfiable)
        return
    assert resolved
    for r in resolved:
        assert 0 <= r.start <= r.end < total


def test_multipart_length_matches_rendering() -> None:
    ranges = [ByteRange(0, 1), ByteRange(5, 9)]
    body = b"0123456789"
    rendered = b""
    for i, r in enumerate(ranges):
        rendered += (part_separator() if i else b"") + part_header("BND", "text/plain", r, 10) + body[r.start : r.end + 1]
    rendered += closing_delimiter("BND")
    assert len(rendered) == multipart_length("BND", "text/plain", ranges, 10)
    assert b"Content-Range: bytes 5-9/10\r\n\r\n56789\r\n--BND--\r\n" in rendered
