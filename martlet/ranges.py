"""HTTP Range requests (RFC 9110 section 14), pure: no I/O.

Used by the storage daemon for single objects and by the proxy for large
objects, which resolve ranges against the manifest's total length. A Range
header that does not parse is ignored (the whole body is served), as the RFC
says; one that parses but where no range fits the body is a 416.

So is an egregious one (RFC 9110 section 14.2 lets a server refuse them,
and Swift does, with a 416): more than ``MAX_RANGES`` satisfiable ranges,
more than ``MAX_RANGE_OVERLAPS`` overlapping pairs, or ``MAX_NONASCENDING_RANGES``
or more ranges out of order. Each costs the server a seek and a part header
for a few bytes of the client's request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from martlet.errors import RangeNotSatisfiable

MAX_RANGES = 50
MAX_RANGE_OVERLAPS = 2
MAX_NONASCENDING_RANGES = 8
_SPEC_RE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


@dataclass(frozen=True)
class RangeSpec:
    """One ``first-last`` as written; ``first`` None means a suffix (``-N``)."""

    first: int | None
    last: int | None


@dataclass(frozen=True)
class ByteRange:
    """A satisfiable range: bytes ``start`` to ``end`` inclusive."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, total: int) -> str:
        return f"bytes {self.start}-{self.end}/{total}"


def parse_range_header(value: str | None) -> list[RangeSpec] | None:
    """The specs of ``bytes=...``; None when absent or malformed (ignore it)."""
    if not value:
        return None
    unit, eq, sets = value.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    specs: list[RangeSpec] = []
    for item in sets.split(","):
        if not item.strip():
            continue
        match = _SPEC_RE.match(item)
        if match is None:
            return None
        first_text, last_text = match.groups()
        if not first_text and not last_text:
            return None
        first = int(first_text) if first_text else None
        last = int(last_text) if last_text else None
        if first is not None and last is not None and last < first:
            return None  # syntactically invalid per the RFC: ignore the header
        specs.append(RangeSpec(first, last))
    if not specs:
        return None
    return specs


def resolve(spec: RangeSpec, total: int) -> ByteRange | None:
    """The bytes ``spec`` selects out of ``total``, or None if none."""
    if spec.first is None:
        assert spec.last is not None
        if spec.last == 0 or total == 0:
            return None
        return ByteRange(max(0, total - spec.last), total - 1)
    if spec.first >= total:
        return None
    end = total - 1 if spec.last is None else min(spec.last, total - 1)
    return ByteRange(spec.first, end)


def is_egregious(ranges: list[ByteRange]) -> bool:
    """Too many ranges, too many overlapping pairs, or many out of order
    (the limits above; ranges that only touch do not overlap)."""
    if len(ranges) > MAX_RANGES:
        return True
    overlaps = 0
    for index, first in enumerate(ranges):
        for second in ranges[index + 1 :]:
            if first.start <= second.end and second.start <= first.end:
                overlaps += 1
                if overlaps > MAX_RANGE_OVERLAPS:
                    return True
    ascending = all((a.start, a.end) <= (b.start, b.end) for a, b in zip(ranges, ranges[1:]))
    return not ascending and len(ranges) >= MAX_NONASCENDING_RANGES


def resolve_ranges(specs: list[RangeSpec], total: int) -> list[ByteRange]:
    """The satisfiable ranges in request order; RangeNotSatisfiable if none,
    or if they are egregious."""
    ranges = [r for r in (resolve(spec, total) for spec in specs) if r is not None]
    if not ranges or is_egregious(ranges):
        raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{total}"})
    return ranges


def ranges_for(header: str | None, total: int) -> list[ByteRange] | None:
    """None: serve the whole body; else the ranges (416 raised if none fit).

    An empty body asked for its last bytes (``bytes=-5``) is served whole:
    it has no byte to name in a Content-Range (Swift, Apache and nginx
    answer 200 too)."""
    specs = parse_range_header(header)
    if specs is None:
        return None
    if total == 0 and any(spec.first is None and spec.last for spec in specs):
        return None
    return resolve_ranges(specs, total)


def part_header(boundary: str, content_type: str, byte_range: ByteRange, total: int) -> bytes:
    """The header block before one part of a multipart/byteranges body."""
    return (
        f"--{boundary}\r\nContent-Type: {content_type}\r\n"
        f"Content-Range: {byte_range.content_range(total)}\r\n\r\n"
    ).encode("utf-8")


def closing_delimiter(boundary: str) -> bytes:
    return f"\r\n--{boundary}--\r\n".encode("ascii")


def part_separator() -> bytes:
    """What ends a part's bytes before the next part header."""
    return b"\r\n"


def multipart_length(boundary: str, content_type: str, ranges: list[ByteRange], total: int) -> int:
    """The exact Content-Length of a multipart/byteranges body."""
    size = 0
    for index, byte_range in enumerate(ranges):
        if index:
            size += len(part_separator())
        size += len(part_header(boundary, content_type, byte_range, total)) + byte_range.length
    return size + len(closing_delimiter(boundary))


def multipart_content_type(boundary: str) -> str:
    """No space after the ``;``, as Swift's swob writes it: Swift's s3api
    tests split the header on ``;`` and compare the halves exactly."""
    return f"multipart/byteranges;boundary={boundary}"
