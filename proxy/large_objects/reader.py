"""GET and HEAD of a large object: the thin streaming layer.

The manifest (an SLO's stored JSON, or a DLO's segment listing) becomes a
list of segments; conditions are checked against the large object's ETag
and Range resolved against its total length (``martlet.conditional`` and
``martlet.ranges``, as for any object); then each range is mapped onto
segment spans (``spans.map_span``) and the spans are streamed one after
another, a chunk at a time, so memory stays flat whatever the size.

Every span read carries ``If-Match`` with the ETag the SLO manifest
recorded, and must answer exactly the bytes asked for. A segment that is
missing or changed before the first byte is sent answers 409 (as Swift);
after that, the error is logged and the connection cut, so the client
sees a short body against its Content-Length, never wrong bytes. A
connection that fails mid-span is resumed on another replica.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from martlet.conditional import evaluate, parse_conditions, parse_http_date
from martlet.errors import Conflict, MartletError, PreconditionFailed
from martlet.ranges import (
    ByteRange, closing_delimiter, multipart_content_type, multipart_length, part_header, part_separator,
)
from martlet.swift_path import SwiftPath
from proxy.access import check_read
from proxy.context import Context
from proxy.fanout import NODE_ERRORS, ReadResponse
from proxy.headers import backend_response_headers
from proxy.large_objects.dlo import parse_dlo_manifest
from proxy.large_objects.fetch import (
    SLO_ETAG, SLO_SIZE, RecursionTooDeep, SegmentError, is_slo, list_dlo_segments, open_span, read_body, read_object,
    read_segment,
)
from proxy.large_objects.manifest import (
    CorruptManifest, Segment, normalize_etag, parse_stored_manifest, slo_etag, total_length,
)
from proxy.large_objects.selection import PART_NUMBER, Selection, select
from proxy.large_objects.spans import map_span, segment_starts

log = logging.getLogger(__name__)

# Swift's default 409 page, which it answers for manifests nested too deep.
CONFLICT_PAGE = "<html><h1>Conflict</h1><p>There was a conflict when trying to complete your request.</p></html>"
RESUME_ATTEMPTS = 2  # per span: a replica failing mid-span is replaced this often
_DROPPED = ("etag", "content-length", "content-range", "accept-ranges", "content-type")


@dataclass(frozen=True)
class LargeObject:
    """What a large object read needs once its manifest is resolved."""

    account: str
    segments: Sequence[Segment] | None  # None: a HEAD answered from sysmeta
    etag: str
    total: int
    headers: Mapping[str, str]  # the manifest's answer headers, for the client
    check_etags: bool  # SLO: every span must match the recorded ETag


def manifest_body_limit(ctx: Context) -> int:
    """Stored manifests are larger than the PUT form (names, types, dates)."""
    return 4 * ctx.state.settings.max_manifest_size


async def load_slo(ctx: Context, path: SwiftPath, response: ReadResponse) -> list[Segment]:
    """The segments of an SLO whose GET answer is ``response`` (read here)."""
    try:
        return parse_stored_manifest(await read_body(response, manifest_body_limit(ctx)))
    except (CorruptManifest, SegmentError) as exc:
        log.error("unreadable SLO manifest", extra={"path": f"{path.container}/{path.obj}", "error": str(exc)})
        raise MartletError("Unable to load SLO manifest") from None
    finally:
        response.release()


async def resolve_large_object(ctx: Context, path: SwiftPath, response: ReadResponse) -> LargeObject:
    """Segments, ETag and length of the manifest that ``response`` answered.

    ``response`` is consumed: its body is the manifest when it is a whole
    GET; otherwise the manifest is fetched again without Range or
    conditions (those apply to the large object, not to the manifest).
    """
    headers = response.headers.copy()
    account = path.account
    if not is_slo(headers):
        response.release()
        container, prefix = parse_dlo_manifest(headers["X-Object-Manifest"])
        await check_read(ctx, SwiftPath(account, container, prefix))
        segments = await list_dlo_segments(ctx, account, container, prefix)
        return LargeObject(account, segments, slo_etag(segments), total_length(segments), headers, False)
    if ctx.method == "HEAD" and headers.get(SLO_ETAG) and (headers.get(SLO_SIZE) or "").isdigit() \
            and PART_NUMBER not in ctx.request.query:  # a part's bytes need the segments
        response.release()
        return LargeObject(account, None, headers[SLO_ETAG], int(headers[SLO_SIZE]), headers, True)
    if not (response.method == "GET" and response.status == 200):
        response.release()
        answer = await read_object(ctx, path, "GET")
        if answer.response is None or answer.response.status != 200 or not is_slo(answer.response.headers):
            if answer.response is not None:
                answer.response.release()
            raise Conflict("The manifest changed during the read; try again")
        response = answer.response
        headers = response.headers.copy()
    segments = await load_slo(ctx, path, response)
    etag = normalize_etag(headers.get(SLO_ETAG)) or slo_etag(segments)
    return LargeObject(account, segments, etag, total_length(segments), headers, True)


async def _sub_slo(ctx: Context, account: str, segment: Segment) -> list[Segment]:
    assert segment.name is not None
    answer = await read_segment(ctx, account, segment.name)
    response = answer.response
    if response is None or response.status != 200 or not is_slo(response.headers) \
            or normalize_etag(response.headers.get(SLO_ETAG)) != segment.etag:
        if response is not None:
            response.release()
        raise SegmentError(f"sub-manifest {segment.name} missing or changed")
    try:
        return parse_stored_manifest(await read_body(response, manifest_body_limit(ctx)))
    except CorruptManifest as exc:
        raise SegmentError(f"sub-manifest {segment.name}: {exc}") from None
    finally:
        response.release()


async def leaf_spans(ctx: Context, account: str, segments: Sequence[Segment], first: int, last: int,
                     depth: int = 1) -> AsyncIterator[tuple[Segment, int, int]]:
    """(segment, first, last) of plain segments holding bytes ``first..last``,
    nested SLOs opened one at a time (at most ``max_slo_recursion_depth``)."""
    starts = segment_starts([s.length for s in segments])
    for piece in map_span(segments, first, last, starts):
        segment = segments[piece.index]
        if not segment.sub_slo:
            yield segment, piece.first, piece.last
            continue
        if depth >= ctx.state.settings.max_slo_recursion_depth:
            raise RecursionTooDeep(f"max recursion depth exceeded at {segment.name}")
        inner = await _sub_slo(ctx, account, segment)
        async for leaf in leaf_spans(ctx, account, inner, piece.first, piece.last, depth + 1):
            yield leaf


async def span_chunks(ctx: Context, account: str, segment: Segment, first: int, last: int,
                      check_etag: bool) -> AsyncGenerator[bytes, None]:
    """Bytes ``first..last`` of one segment, resumed on another replica if
    the serving one fails; the resumed read must be the very same object."""
    if segment.data is not None:
        yield segment.data[first:last + 1]
        return
    etag = segment.etag if check_etag else None
    failures = 0
    while first <= last:
        response = await open_span(ctx, account, segment, first, last, etag)
        etag = etag or normalize_etag(response.headers.get("ETag"))
        reason = "short body"
        try:
            async for chunk in response.content.iter_chunked(ctx.state.settings.chunk_size):
                if len(chunk) > last - first + 1:
                    raise SegmentError(f"segment {segment.name} sent too many bytes")
                first += len(chunk)
                yield chunk
        except NODE_ERRORS as exc:
            reason = type(exc).__name__
        finally:
            response.release()
        if first <= last:
            failures += 1
            if failures > RESUME_ATTEMPTS:
                raise SegmentError(f"segment {segment.name} read failed: {reason}")
            log.info("segment read resumed", extra={"segment": segment.name, "at": first, "error": reason})


async def body_chunks(ctx: Context, lo: LargeObject, ranges: list[ByteRange] | None, boundary: str,
                      content_type: str) -> AsyncGenerator[bytes, None]:
    """The response body: the whole object, one range, or multipart/byteranges."""
    assert lo.segments is not None
    spans = ranges if ranges is not None else ([ByteRange(0, lo.total - 1)] if lo.total else [])
    multipart = ranges is not None and len(ranges) > 1
    for index, byte_range in enumerate(spans):
        if multipart:
            yield (part_separator() if index else b"") + part_header(boundary, content_type, byte_range, lo.total)
        async for segment, first, last in leaf_spans(ctx, lo.account, lo.segments, byte_range.start, byte_range.end):
            async for chunk in span_chunks(ctx, lo.account, segment, first, last, lo.check_etags):
                yield chunk
    if multipart:
        yield closing_delimiter(boundary)


def client_headers(lo: LargeObject) -> dict[str, str]:
    """The large object's headers: the manifest's, with the large object's
    ETag (and an SLO's manifest ETag beside it, as Swift's)."""
    headers = {k: v for k, v in backend_response_headers(lo.headers).items() if k.lower() not in _DROPPED}
    headers["ETag"] = f'"{lo.etag}"'
    headers["Accept-Ranges"] = "bytes"
    if lo.check_etags:
        headers["X-Manifest-Etag"] = normalize_etag(lo.headers.get("ETag")) or ""
    return headers


def check_conditions(ctx: Context, lo: LargeObject, headers: dict[str, str],
                     method: str | None = None) -> web.Response | None:
    """304 (returned) or 412 (raised) against the large object's own ETag,
    for a ``method`` read (by default the request's; a copy reads with GET)."""
    last_modified = parse_http_date(lo.headers.get("Last-Modified"))
    verdict = evaluate(parse_conditions(ctx.request.headers), lo.etag, last_modified, method or ctx.method)
    if verdict == 304:
        kept = {k: v for k, v in headers.items() if k in ("ETag", "Last-Modified", "X-Timestamp", "Accept-Ranges")}
        return web.Response(status=304, headers=kept)
    if verdict == 412:
        raise PreconditionFailed(headers=headers)
    return None


@dataclass(frozen=True)
class Body:
    """The bytes a read of a large object answers: the whole object, one
    range, or several as multipart/byteranges (``boundary``)."""

    lo: LargeObject
    ranges: list[ByteRange] | None
    boundary: str
    object_type: str  # the large object's own Content-Type

    @property
    def length(self) -> int:
        if self.ranges is None:
            return self.lo.total
        if len(self.ranges) == 1:
            return self.ranges[0].length
        return multipart_length(self.boundary, self.object_type, self.ranges, self.lo.total)

    @property
    def content_type(self) -> str:
        if self.ranges is not None and len(self.ranges) > 1:
            return multipart_content_type(self.boundary)
        return self.object_type

    def chunks(self, ctx: Context) -> AsyncGenerator[bytes, None]:
        return body_chunks(ctx, self.lo, self.ranges, self.boundary, self.object_type)


def shape_body(lo: LargeObject, ranges: list[ByteRange] | None) -> Body:
    return Body(lo, ranges, uuid.uuid4().hex, lo.headers.get("Content-Type", "application/octet-stream"))


def select_bytes(ctx: Context, lo: LargeObject, headers: Mapping[str, str]) -> Selection:
    """The client's part, ranges or whole object (``selection.select``);
    a 400 or 416 carries the large object's ``headers``."""
    lengths = [s.length for s in lo.segments] if lo.check_etags and lo.segments is not None else None
    last_modified = parse_http_date(lo.headers.get("Last-Modified"))
    try:
        return select(ctx.request.headers, ctx.request.query, lo.total, lo.etag, last_modified, lengths)
    except MartletError as exc:
        exc.headers = {**headers, **exc.headers}
        raise


async def serve_large_object(ctx: Context, path: SwiftPath, response: ReadResponse) -> web.StreamResponse:
    lo = await resolve_large_object(ctx, path, response)
    headers = client_headers(lo)
    not_modified = check_conditions(ctx, lo, headers)
    if not_modified is not None:
        return not_modified
    try:
        selection = select_bytes(ctx, lo, headers)
    except MartletError as exc:
        if ctx.method != "HEAD":
            raise
        # A HEAD's refusal states its (empty) length, as Swift's 416 does.
        refused = web.StreamResponse(status=exc.http_status, headers=exc.headers)
        refused.content_length = 0
        await refused.prepare(ctx.request)
        await refused.write_eof()
        return refused
    body = shape_body(lo, selection.ranges)
    out = web.StreamResponse(status=selection.status, headers={**headers, **selection.headers})
    out.headers["Content-Type"], out.content_length = body.content_type, body.length
    if selection.ranges is not None and len(selection.ranges) == 1:
        out.headers["Content-Range"] = selection.ranges[0].content_range(lo.total)
    if ctx.method == "HEAD":
        await out.prepare(ctx.request)
        await out.write_eof()
        return out
    return await _stream(ctx, out, body.chunks(ctx), path)


async def _stream(ctx: Context, out: web.StreamResponse, chunks: AsyncGenerator[bytes, None],
                  path: SwiftPath) -> web.StreamResponse:
    where = str(path)
    try:
        first = await anext(chunks, b"")  # a bad first segment can still be a 409
    except SegmentError as exc:
        log.error("large object segment error before the response", extra={"path": where, "error": str(exc)})
        if isinstance(exc, RecursionTooDeep):
            raise Conflict(CONFLICT_PAGE) from None
        raise Conflict(f"Large object segment error: {exc}") from None
    await out.prepare(ctx.request)
    try:
        await out.write(first)
        async for chunk in chunks:
            await out.write(chunk)
    except SegmentError as exc:
        # The status and length are sent: cut the connection so the client
        # cannot take a short body for the whole object.
        log.error("large object segment error mid-stream", extra={"path": where, "error": str(exc)})
        if ctx.request.transport is not None:
            ctx.request.transport.close()
        return out
    finally:
        await chunks.aclose()
    await out.write_eof()
    return out
