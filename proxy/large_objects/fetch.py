"""Backend reads the large-object code needs: HEAD of a segment, a whole
manifest body (bounded), a DLO's segment listing (every page), and one
byte span of a segment object.

Everything goes through ``proxy.replicas``, so segments get the same
replica choice, handoffs, tombstone rule and error limiting as any object
read, and through ``proxy.access``, so a segment is read (and HEADed for
a manifest PUT) only where the client itself may read: the reader's
rights count when a manifest is read, not only the writer's when it was
written.
"""

from __future__ import annotations

import json
from dataclasses import replace
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import aiohttp

from martlet.config import is_true
from martlet.errors import MartletError
from martlet.swift_path import SwiftPath
from martlet.timestamp import Timestamp
from proxy.access import check_read
from proxy.context import Context
from proxy.fanout import NODE_ERRORS, ReadAnswer, ReadResponse
from proxy.large_objects.dlo import listing_segments
from proxy.large_objects.manifest import Segment, SegmentHead, normalize_etag
from proxy.replicas import read_entity
from proxy.symlink.reader import read_counting_links, read_following

SLO_ETAG = "X-Object-Sysmeta-Slo-Etag"
SLO_SIZE = "X-Object-Sysmeta-Slo-Size"
SLO_DEPTH = "X-Object-Sysmeta-Slo-Depth"
LISTING_PAGE = 10000


class SegmentError(Exception):
    """A segment is missing, changed, or unreadable: the large object cannot
    be served correctly from here on."""


class RecursionTooDeep(SegmentError):
    """Nested manifests (perhaps through symlinks) deeper than
    ``max_slo_recursion_depth``: Swift answers its plain 409 page."""


def is_slo(headers: Mapping[str, str]) -> bool:
    return is_true(headers.get("X-Static-Large-Object"))


def is_dlo(headers: Mapping[str, str]) -> bool:
    return not is_slo(headers) and bool(headers.get("X-Object-Manifest"))


def is_manifest(headers: Mapping[str, str]) -> bool:
    return is_slo(headers) or is_dlo(headers)


def iso_last_modified(x_timestamp: str | None) -> str:
    """``X-Timestamp`` as listings show it (ISO 8601, microseconds, no zone)."""
    if not x_timestamp:
        return ""
    seconds = Timestamp.parse(x_timestamp).seconds
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


async def read_object(ctx: Context, path: SwiftPath, method: str,
                      headers: Mapping[str, str] | None = None) -> ReadAnswer:
    return await read_entity(ctx.state, path, method, dict(headers or {}))


async def read_segment(ctx: Context, account: str, name: str, headers: Mapping[str, str] | None = None
                       ) -> ReadAnswer:
    """A GET of the segment object ``/container/object`` as the reader: a
    segment is read only where the reader may read, whatever the manifest's
    writer could (Swift reads segments with the client's own token); a
    segment the reader may not read is a SegmentError, as a missing one."""
    container, _, obj = name.lstrip("/").partition("/")
    path = SwiftPath(account, container, obj)
    try:
        await check_read(ctx, path)
        # A segment may be a symlink: its target is the segment.
        return await read_following(ctx, path, "GET", headers or {})
    except MartletError as exc:
        raise SegmentError(f"segment {name} answered {exc.http_status}") from None


async def read_body(response: ReadResponse, limit: int) -> bytes:
    """The whole body of a small backend answer; SegmentError past ``limit``."""
    data = bytearray()
    try:
        async for chunk in response.content.iter_chunked(65536):
            data += chunk
            if len(data) > limit:
                raise SegmentError(f"body larger than {limit} bytes")
    except NODE_ERRORS as exc:
        raise SegmentError(f"read failed: {type(exc).__name__}") from None
    return bytes(data)


def head_of(response: ReadResponse) -> SegmentHead:
    h = response.headers
    slo = is_slo(h)
    size = int(h.get(SLO_SIZE) or 0) if slo else int(h.get("Content-Length") or 0)
    etag = h.get(SLO_ETAG, "") if slo else h.get("ETag", "")
    depth = int(h.get(SLO_DEPTH) or 1) if slo else 0
    return SegmentHead(response.status, size, normalize_etag(etag) or "", h.get("Content-Type", ""),
                       iso_last_modified(h.get("X-Timestamp")), slo, is_dlo(h), depth)


async def head_segment(ctx: Context, account: str, path: str) -> SegmentHead:
    """HEAD of ``/container/object`` as the client (its access checked)."""
    container, _, obj = path.lstrip("/").partition("/")
    segment = SwiftPath(account, container, obj)
    try:
        await check_read(ctx, segment)
        answer, links = await read_counting_links(ctx, segment, "HEAD", {})
    except MartletError as exc:
        return SegmentHead(exc.http_status)
    if answer.response is None:
        return SegmentHead(404 if 404 in answer.statuses else 503)
    answer.response.release()
    if answer.response.status != 200:
        return SegmentHead(answer.response.status)
    if is_slo(answer.response.headers) and not answer.response.headers.get(SLO_ETAG):
        return SegmentHead(409)  # an SLO without its sysmeta: not ours, or broken
    head = head_of(answer.response)
    # A manifest behind a symlink nests as one level (as Swift's, whose
    # segment check does not see the target's depth through the link).
    return replace(head, slo_depth=1) if links and head.is_slo else head


async def list_dlo_segments(ctx: Context, account: str, container: str, prefix: str) -> list[Segment]:
    """Every object of ``container`` under ``prefix``, page after page.

    A missing container lists as nothing (the DLO is then empty, as Swift's).
    """
    segments: list[Segment] = []
    marker = ""
    while True:
        query = {"format": "json", "prefix": prefix, "limit": str(LISTING_PAGE)}
        if marker:
            query["marker"] = marker
        answer = await read_entity(ctx.state, SwiftPath(account, container), "GET", {}, query)
        response = answer.response
        if response is None:
            if 404 in answer.statuses:
                return segments
            raise SegmentError(f"segment container {container} unavailable")
        try:
            if response.status == 204:
                return segments
            if response.status != 200:
                raise SegmentError(f"listing of {container} answered {response.status}")
            rows: Any = json.loads(await read_body(response, 64 * 1024 * 1024))
        except ValueError:
            raise SegmentError(f"listing of {container} is not JSON") from None
        finally:
            response.release()
        page = listing_segments(container, rows if isinstance(rows, list) else [])
        segments.extend(page)
        if len(rows) < LISTING_PAGE or not page:
            return segments
        marker = page[-1].split_name()[1]


async def open_span(ctx: Context, account: str, segment: Segment, first: int, last: int,
                    etag: str | None) -> ReadResponse:
    """A backend answer streaming bytes ``first..last`` of a segment object.

    With ``etag`` the read carries ``If-Match``, so a segment replaced since
    the manifest was written answers 412 instead of other bytes. The answer
    must also describe exactly the asked span of an object of the expected
    size; anything else is a SegmentError.
    """
    assert segment.name is not None
    whole_object = first == 0 and last == segment.size - 1
    # A whole segment is read without Range, so the storage node checks its
    # md5 on the way (and cuts a corrupt body); spans use Range.
    headers = {} if whole_object else {"Range": f"bytes={first}-{last}"}
    if etag:
        headers["If-Match"] = etag
    answer = await read_segment(ctx, account, segment.name, headers)
    response = answer.response
    if response is None:
        reason = "missing" if 404 in answer.statuses else "unavailable"
        raise SegmentError(f"segment {segment.name} {reason}")
    status, h = response.status, response.headers
    expected = f"bytes {first}-{last}/{segment.size}"
    whole = whole_object and status == 200 and h.get("Content-Length") == str(segment.size)
    if not whole and not (status == 206 and h.get("Content-Range") == expected):
        response.release()
        what = "changed" if status in (200, 206, 412, 416) else f"answered {status}"
        raise SegmentError(f"segment {segment.name} {what}")
    return response
