"""Swift's limits on user metadata, which two sides enforce.

The proxy checks the metadata of each request (``proxy.constraints``); the
account and container servers check what a POST or PUT would leave stored,
its metadata merged with what is already there, so that many small POSTs
cannot add up past the limits (Swift's ``DatabaseBroker.validate_metadata``).
Sizes count bytes: a key without its ``X-<Kind>-Meta-`` prefix, plus its
value.
"""

from __future__ import annotations

from collections.abc import Iterable

from martlet.errors import BadRequest

MAX_META_NAME_LENGTH = 128
MAX_META_VALUE_LENGTH = 256
MAX_META_COUNT = 90
MAX_META_OVERALL_SIZE = 4096
MAX_HEADER_SIZE = 8192


def check_meta_totals(items: Iterable[tuple[bytes, bytes]]) -> None:
    """400 when the ``(key, value)`` items, prefixes already taken off, are
    more than ``MAX_META_COUNT`` or add up to more than
    ``MAX_META_OVERALL_SIZE`` bytes."""
    count = 0
    size = 0
    for key, value in items:
        count += 1
        size += len(key) + len(value)
    if count > MAX_META_COUNT:
        raise BadRequest(f"Too many metadata items; max {MAX_META_COUNT}")
    if size > MAX_META_OVERALL_SIZE:
        raise BadRequest(f"Total metadata too large; max {MAX_META_OVERALL_SIZE}")
