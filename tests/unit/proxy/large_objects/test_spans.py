"""Mapping a large object's byte ranges onto its segments (property-tested)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from martlet.ranges import ByteRange
from proxy.large_objects.manifest import Segment
from proxy.large_objects.spans import Piece, map_span, segment_starts


def seg(size: int, rng: tuple[int, int] | None = None) -> Segment:
    return Segment(f"/s/{size}", size, "e", ByteRange(*rng) if rng else None)


def test_a_range_spanning_two_segments() -> None:
    segments = [seg(10), seg(10), seg(10)]
    assert list(map_span(segments, 8, 12)) == [Piece(0, 8, 9), Piece(1, 0, 2)]
    assert list(map_span(segments, 0, 29)) == [Piece(0, 0, 9), Piece(1, 0, 9), Piece(2, 0, 9)]
    assert list(map_span(segments, 29, 29)) == [Piece(2, 9, 9)]


def test_segment_ranges_shift_the_pieces() -> None:
    segments = [seg(100, (10, 19)), seg(5)]
    assert list(map_span(segments, 5, 11)) == [Piece(0, 15, 19), Piece(1, 0, 1)]


def test_zero_length_segments_never_appear() -> None:
    segments = [seg(0), seg(3), seg(0), seg(0), seg(2)]
    assert segment_starts([s.length for s in segments]) == [0, 0, 3, 3, 3]
    assert list(map_span(segments, 0, 4)) == [Piece(1, 0, 2), Piece(4, 0, 1)]


segment_specs = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(segment_specs, st.data())
def test_pieces_reassemble_the_slice(specs: list[tuple[int, int, int]], data: st.DataObject) -> None:
    """Whatever the segments (ranged, empty), the pieces of ``first..last``
    are exactly bytes ``first..last`` of the concatenation."""
    segments, contents, content = [], [], b""
    for index, (size, cut_front, cut_back) in enumerate(specs):
        body = bytes((index * 31 + i) % 251 for i in range(size))
        rng = None
        if size and cut_front + cut_back < size and (cut_front or cut_back):
            rng = (cut_front, size - 1 - cut_back)
        segment = seg(size, rng)
        segments.append(segment)
        contents.append(body)
        content += body[segment.offset:segment.offset + segment.length]
    if not content:
        assert list(map_span(segments, 0, 0)) == []
        return
    first = data.draw(st.integers(0, len(content) - 1))
    last = data.draw(st.integers(first, len(content) - 1))
    pieces = list(map_span(segments, first, last))
    assert b"".join(contents[p.index][p.first:p.last + 1] for p in pieces) == content[first:last + 1]
    assert all(p.length > 0 for p in pieces)
