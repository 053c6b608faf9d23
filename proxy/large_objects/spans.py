"""Mapping byte ranges of a large object onto its segments, pure.

A large object is its segments' contributed bytes end to end; a range of
it becomes a run of pieces, each a byte span inside one segment object
(the segment's own ``range`` offset already applied). Zero-length segments
(possible in a DLO) contribute nothing and never appear as pieces.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

from proxy.large_objects.manifest import Segment


@dataclass(frozen=True)
class Piece:
    """Bytes ``first..last`` (inclusive) of segment object number ``index``."""

    index: int
    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def segment_starts(lengths: Sequence[int]) -> list[int]:
    """Offset in the large object where each segment's bytes begin."""
    return [0, *accumulate(lengths)][:-1] if lengths else []


def map_span(segments: Sequence[Segment], first: int, last: int,
             starts: Sequence[int] | None = None) -> Iterator[Piece]:
    """The pieces holding bytes ``first..last`` of the large object, in order.

    ``starts`` (from ``segment_starts``) may be given to avoid recomputing
    it for every range of a multi-range request.
    """
    if first > last:
        return
    if starts is None:
        starts = segment_starts([s.length for s in segments])
    index = max(bisect.bisect_right(starts, first) - 1, 0)
    while index < len(segments) and starts[index] <= last:
        segment = segments[index]
        begin = starts[index]
        end = begin + segment.length - 1
        if segment.length > 0 and end >= first:
            lo, hi = max(first, begin) - begin, min(last, end) - begin
            yield Piece(index, segment.offset + lo, segment.offset + hi)
        index += 1
