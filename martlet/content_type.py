"""The ``swift_bytes`` parameter of a container row's content type (pure).

An SLO manifest's container row carries the large object's total length as
``<type>;swift_bytes=<total>`` (Swift's convention): the row's own size is
the manifest's, and listings show ``swift_bytes`` as the object's bytes,
with the parameter removed from the content type. The proxy adds it (a
client's own ``swift_bytes`` is dropped first, so no client can make a row
lie about its size) and the container server reads it back.
"""

from __future__ import annotations

SWIFT_BYTES = "swift_bytes"


def split_swift_bytes(content_type: str) -> tuple[str, int | None]:
    """``(content type without swift_bytes, swift_bytes or None)``.

    Text without the parameter comes back unchanged; a malformed value is
    dropped (it came from nowhere trustworthy) and gives None.
    """
    if SWIFT_BYTES not in content_type:
        return content_type, None
    base, *params = content_type.split(";")
    kept: list[str] = []
    found: int | None = None
    for param in params:
        key, sep, value = param.partition("=")
        if sep and key.strip().lower() == SWIFT_BYTES:
            value = value.strip()
            if value.isascii() and value.isdigit():
                found = int(value)
            continue
        kept.append(param)
    return ";".join([base, *kept]), found


def with_swift_bytes(content_type: str, total: int) -> str:
    """``content_type`` carrying ``total`` as its only ``swift_bytes``."""
    return f"{split_swift_bytes(content_type)[0]};{SWIFT_BYTES}={total}"
