"""Server-side copy (``X-Copy-From``, ``COPY``) whose source is a manifest.

Without ``?multipart-manifest=get`` the copy is what a GET of the large
object answers, with the copy request's conditions, ``Range`` and
``?part-number`` (as Swift's copy, a GET of the source then a PUT): its
segments are read as a GET reads them (``reader.Body``) and streamed into
an ordinary object PUT, so the copy is a plain object capped by
``max_file_size`` (413 when the bytes to copy are more, before anything is
written). With ``?multipart-manifest=get`` an SLO is copied as a
manifest: its segments go through the same checks as a client's manifest
PUT, with the copier's own read access, so the copy is again a working SLO
(a DLO manifest is copied as the small object it is, ``X-Object-Manifest``
included). The copy itself is the ``proxy.server_copy`` feature's; it calls
these for a manifest source.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from martlet.errors import Conflict, EntityTooLarge
from martlet.swift_path import SwiftPath
from proxy.context import Context
from proxy.large_objects.fetch import SegmentError
from proxy.large_objects.manifest import raw_json
from proxy.large_objects.reader import (
    Body, check_conditions, client_headers, load_slo, resolve_large_object, select_bytes, shape_body,
)
from proxy.large_objects.writer import store_slo_manifest
from proxy.fanout import ReadResponse


@dataclass(frozen=True)
class CopySource:
    """What a copy writes: the source's headers (metadata to inherit), its
    length, its bytes, and their md5 when known (checked by the object server)."""

    headers: Mapping[str, str]
    length: int
    chunks: AsyncIterator[bytes]
    etag: str | None


async def _content(ctx: Context, body: Body, where: str) -> AsyncGenerator[bytes, None]:
    """The large object's bytes; a bad segment fails the copy with 409 (the
    PUT is then cut on every replica, so no copy is stored)."""
    chunks = body.chunks(ctx)
    try:
        async for chunk in chunks:
            yield chunk
    except SegmentError as exc:
        raise Conflict(f"Large object segment error while copying {where}: {exc}") from None
    finally:
        await chunks.aclose()


async def open_large_object(ctx: Context, path: SwiftPath, response: ReadResponse
                            ) -> CopySource | web.Response:
    """What a GET of the large object whose manifest ``response`` answered
    (consumed here) would send, with the copy request's conditions, Range
    and ``part-number`` applied as a GET applies them: the source to copy,
    or the 304 to answer. 412, 416 and 400 are raised as for a GET, and 413
    when the bytes to copy are more than one object may hold."""
    lo = await resolve_large_object(ctx, path, response)
    headers = client_headers(lo)
    not_modified = check_conditions(ctx, lo, headers, "GET")
    if not_modified is not None:
        return not_modified
    body = shape_body(lo, select_bytes(ctx, lo, headers).ranges)
    limit = ctx.state.settings.max_file_size
    if body.length > limit:
        raise EntityTooLarge(f"Copy source is a large object of {body.length} bytes; max_file_size is {limit}")
    source = {**lo.headers, "Content-Type": body.content_type}
    return CopySource(source, body.length, _content(ctx, body, f"{path.container}/{path.obj}"), None)


async def copy_slo_manifest(ctx: Context, source: SwiftPath, dest: SwiftPath, response: ReadResponse,
                            headers: dict[str, str]) -> web.Response:
    """Store the SLO manifest that ``response`` answered (consumed here) at
    ``dest`` with ``headers``, its segments checked as for a manifest PUT."""
    segments = await load_slo(ctx, source, response)
    return await store_slo_manifest(ctx, dest, headers, raw_json(segments))
