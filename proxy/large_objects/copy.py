"""Server-side copy (``X-Copy-From``, ``COPY``) whose source is a manifest.

Without ``?multipart-manifest=get`` the copy is the large object's content:
its segments are read as a GET would read them (``reader.body_chunks``) and
streamed into an ordinary object PUT, so the copy is a plain object capped
by ``max_file_size`` (413 when the large object is bigger, before anything
is written). With ``?multipart-manifest=get`` an SLO is copied as a
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
from proxy.large_objects.reader import LargeObject, body_chunks, load_slo, resolve_large_object
from proxy.large_objects.writer import store_slo_manifest


@dataclass(frozen=True)
class CopySource:
    """What a copy writes: the source's headers (metadata to inherit), its
    length, its bytes, and their md5 when known (checked by the object server)."""

    headers: Mapping[str, str]
    length: int
    chunks: AsyncIterator[bytes]
    etag: str | None


async def _content(ctx: Context, lo: LargeObject, where: str) -> AsyncGenerator[bytes, None]:
    """The large object's bytes; a bad segment fails the copy with 409 (the
    PUT is then cut on every replica, so no copy is stored)."""
    chunks = body_chunks(ctx, lo, None, "", lo.headers.get("Content-Type", "application/octet-stream"))
    try:
        async for chunk in chunks:
            yield chunk
    except SegmentError as exc:
        raise Conflict(f"Large object segment error while copying {where}: {exc}") from None
    finally:
        await chunks.aclose()


async def open_large_object(ctx: Context, path: SwiftPath, response: aiohttp.ClientResponse) -> CopySource:
    """The content of the large object whose manifest ``response`` answered
    (consumed here); 413 when it is larger than one object may be."""
    lo = await resolve_large_object(ctx, path, response)
    limit = ctx.state.settings.max_file_size
    if lo.total > limit:
        raise EntityTooLarge(f"Copy source is a large object of {lo.total} bytes; max_file_size is {limit}")
    return CopySource(lo.headers, lo.total, _content(ctx, lo, f"{path.container}/{path.obj}"), None)


async def copy_slo_manifest(ctx: Context, source: SwiftPath, dest: SwiftPath, response: aiohttp.ClientResponse,
                            headers: dict[str, str]) -> web.Response:
    """Store the SLO manifest that ``response`` answered (consumed here) at
    ``dest`` with ``headers``, its segments checked as for a manifest PUT."""
    segments = await load_slo(ctx, source, response)
    return await store_slo_manifest(ctx, dest, headers, raw_json(segments))
