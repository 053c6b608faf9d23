"""Which bytes of a large object a GET or HEAD asks for, pure: no I/O.

Three ways to ask, judged against the large object (never the manifest):

* ``?part-number=N`` (SLO only, as Swift 2.38): the N-th segment of the
  top manifest, 1-based, answered 206 with its Content-Range and
  ``X-Parts-Count``; 400 for a number that is not an integer above 0 or
  with a Range beside it, 416 beyond the last part. A DLO ignores it.
* ``Range``: one or more byte ranges, 206 (416 when none fits). A DLO
  serves one range only and ignores a multi-range request (200 with the
  whole object), as Swift's does.
* ``If-Range``: a Range under a stale validator is ignored (200 whole),
  per RFC 9110 (``martlet.conditional.if_range_holds``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from martlet.conditional import if_range_holds
from martlet.errors import BadRequest, RangeNotSatisfiable
from martlet.ranges import ByteRange, parse_range_header, resolve_ranges
from proxy.large_objects.spans import segment_starts

PART_NUMBER = "part-number"
BAD_PART_NUMBER = "Part number must be an integer greater than 0"
PART_WITH_RANGE = "Range requests are not supported with part number queries"
PART_UNSATISFIABLE = "The requested part number is not satisfiable"
PARTS_COUNT = "X-Parts-Count"


@dataclass(frozen=True)
class Selection:
    """The answer's shape: ``ranges`` None is the whole object (200)."""

    ranges: list[ByteRange] | None
    headers: Mapping[str, str] = field(default_factory=dict)  # X-Parts-Count, for a part

    @property
    def status(self) -> int:
        return 200 if self.ranges is None else 206


def parse_part_number(value: str | None) -> int | None:
    """The ``part-number`` query value; None when absent, 400 when it is
    not an integer greater than 0."""
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise BadRequest(BAD_PART_NUMBER)
    return number


def part_range(lengths: Sequence[int], number: int) -> ByteRange | None:
    """Bytes of part ``number`` (1-based) among parts of ``lengths``; None
    beyond the last part."""
    if number > len(lengths):
        return None
    start = segment_starts(lengths)[number - 1]
    return ByteRange(start, start + lengths[number - 1] - 1)


def select(headers: Mapping[str, str], query: Mapping[str, str], total: int, etag: str,
           last_modified: float | None, part_lengths: Sequence[int] | None) -> Selection:
    """What a read with the request's ``headers`` and ``query`` answers
    from a large object of ``total`` bytes, ``etag`` and ``last_modified``.
    ``part_lengths`` are an SLO's top-level segment lengths (None for a
    DLO, which has no parts and one range at most).

    Raises 400 (bad part number, or one with a Range) and 416.
    """
    specs = parse_range_header(headers.get("Range"))
    if part_lengths is not None:
        number = parse_part_number(query.get(PART_NUMBER))
        if number is not None:
            if specs is not None:
                raise BadRequest(PART_WITH_RANGE)
            count = {PARTS_COUNT: str(len(part_lengths))}
            byte_range = part_range(part_lengths, number)
            if byte_range is None:
                raise RangeNotSatisfiable(PART_UNSATISFIABLE,
                                          headers={"Content-Range": f"bytes */{total}", **count})
            return Selection([byte_range], count)
    if specs is None:
        return Selection(None)
    if not if_range_holds(headers.get("If-Range"), etag, last_modified):
        return Selection(None)
    if part_lengths is None and len(specs) > 1:
        return Selection(None)  # a DLO serves one range only
    return Selection(resolve_ranges(specs, total))
