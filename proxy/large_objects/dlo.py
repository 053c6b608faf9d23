"""Dynamic large objects, pure: the ``X-Object-Manifest`` value and the
segments a container listing names. No I/O.

A DLO is any object carrying ``X-Object-Manifest: <container>/<prefix>``
(URL-quoted, as python-swiftclient writes it); its content is every object
of ``<container>`` whose name starts with ``<prefix>``, in name order, at
the time of the read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from martlet.errors import BadRequest
from martlet.http import encodable
from proxy.constraints import MAX_CONTAINER_NAME_LENGTH
from proxy.large_objects.manifest import Segment, normalize_etag

FORMAT_ERROR = "X-Object-Manifest must be in the format container/prefix"


def parse_dlo_manifest(value: str) -> tuple[str, str]:
    """(container, prefix) of an ``X-Object-Manifest`` value; 400 if malformed."""
    container, sep, prefix = unquote(value.strip()).partition("/")
    if not encodable(container) or not encodable(prefix):  # raw bytes that are not UTF-8
        raise BadRequest(FORMAT_ERROR)
    if not sep or not container or len(container.encode("utf-8")) > MAX_CONTAINER_NAME_LENGTH:
        raise BadRequest(FORMAT_ERROR)
    if "\x00" in container or "\x00" in prefix:
        raise BadRequest(FORMAT_ERROR)
    return container, prefix


def listing_segments(container: str, rows: Iterable[Mapping[str, Any]]) -> list[Segment]:
    """Segments from the JSON rows of a container listing (``subdir`` rows,
    which a listing without delimiter never has, are skipped); a static
    link counts as its target."""
    segments = []
    for row in rows:
        name = row.get("name")
        if not isinstance(name, str):
            continue
        size = row.get("bytes")
        etag = normalize_etag(str(row.get("hash", ""))) or ""
        if "symlink_bytes" in row and "symlink_etag" in row:
            # A static link (object versioning's current version): what a
            # read of it gives is its target, of that size and ETag.
            size, etag = row["symlink_bytes"], normalize_etag(str(row["symlink_etag"])) or ""
        segments.append(Segment(f"/{container}/{name}", int(size or 0), etag,
                                content_type=str(row.get("content_type", "")),
                                last_modified=str(row.get("last_modified", ""))))
    return segments
