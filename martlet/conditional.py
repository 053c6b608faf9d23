"""Conditional requests (RFC 9110 section 13), pure: no I/O.

``evaluate`` applies the preconditions in Swift's order (swob's), which
unlike RFC 9110's judges a date even beside an ETag condition: a matching
If-None-Match (304 for GET/HEAD, else 412), a failed If-Match (412), an
If-Modified-Since the object is not newer than (304, GET/HEAD only), an
If-Unmodified-Since it is newer than (412). It answers None (go on), 304
(Not Modified) or 412 (Precondition Failed). ETags are compared without
quotes: Swift sends them unquoted and clients send them either way. Dates
that do not parse are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from datetime import datetime, timezone


@dataclass(frozen=True)
class Conditions:
    if_match: tuple[str, ...] | None = None
    if_none_match: tuple[str, ...] | None = None
    if_modified_since: float | None = None
    if_unmodified_since: float | None = None


def parse_etag_list(value: str | None) -> tuple[str, ...] | None:
    """``"a", W/"b"`` -> ``("a", "b")``; ``*`` stays ``*``; None if absent."""
    if value is None:
        return None
    tags = []
    for item in value.split(","):
        tag = item.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tag = tag.strip('"')
        if tag:
            tags.append(tag)
    return tuple(tags)


def parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def http_date(seconds: float) -> str:
    """An IMF-fixdate (``Tue, 15 Nov 1994 08:12:31 GMT``)."""
    return format_datetime(datetime.fromtimestamp(seconds, timezone.utc), usegmt=True)


def last_modified_seconds(timestamp_seconds: float) -> int:
    """HTTP dates have whole seconds; round up, as Swift does, so that an
    object is never reported older than it is."""
    return math.ceil(timestamp_seconds)


def parse_conditions(headers: Mapping[str, str]) -> Conditions:
    return Conditions(
        if_match=parse_etag_list(headers.get("If-Match")),
        if_none_match=parse_etag_list(headers.get("If-None-Match")),
        if_modified_since=parse_http_date(headers.get("If-Modified-Since")),
        if_unmodified_since=parse_http_date(headers.get("If-Unmodified-Since")),
    )


def _matches(tags: tuple[str, ...], etag: str | None) -> bool:
    if etag is None:
        return False
    return "*" in tags or etag.strip('"') in tags


def evaluate(
    conditions: Conditions, etag: str | None, last_modified: float | None, method: str
) -> int | None:
    """None to serve; 304 or 412. ``etag`` None means no current object."""
    read = method in ("GET", "HEAD")
    if conditions.if_none_match is not None and _matches(conditions.if_none_match, etag):
        return 304 if read else 412
    if conditions.if_match is not None and not _matches(conditions.if_match, etag):
        return 412
    if read and conditions.if_modified_since is not None and last_modified is not None:
        if last_modified <= conditions.if_modified_since:
            return 304
    if conditions.if_unmodified_since is not None and last_modified is not None:
        if last_modified > conditions.if_unmodified_since:
            return 412
    return None


def if_range_holds(value: str | None, etag: str | None, last_modified: float | None) -> bool:
    """Whether a Range may be served under ``If-Range: value`` (RFC 9110
    13.1.5): with no If-Range, yes; with an entity tag, only when it is a
    strong match of ``etag``; with a date, only when it is exactly
    ``last_modified``. Otherwise the client's partial copy is stale, and it
    gets the whole representation (200) instead of a piece of another one.
    Swift ignores the header; answering a piece of a changed object to a
    client resuming a download would corrupt its copy, so martlet does not.
    """
    if value is None:
        return True
    value = value.strip()
    if value.startswith("W/"):
        return False  # a weak tag never matches for If-Range
    if value.startswith('"'):
        return etag is not None and value.strip('"') == etag.strip('"')
    date = parse_http_date(value)
    if date is None:
        # Not a date: an unquoted tag, as Swift clients send them.
        return etag is not None and value == etag.strip('"')
    return last_modified is not None and date == last_modified
