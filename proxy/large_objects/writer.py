"""``PUT ?multipart-manifest=put`` and ``DELETE ?multipart-manifest=delete``.

A manifest PUT reads the client's JSON (at most ``max_manifest_size``
bytes), HEADs every distinct segment (``slo_concurrency`` at a time, with
the client's own access rights), and either answers 400 listing each bad
segment, or stores the manifest in Swift's stored form with
``X-Static-Large-Object: True`` and the large object's ETag, size and
nesting depth as sysmeta, so a HEAD never needs the manifest body. With
``?heartbeat=on`` the outcome comes as a summary after a 202 and spaces
(``heartbeat``).

A manifest DELETE removes every segment (nested SLOs included), then the
manifest if all went well, and answers 200 with a summary (Swift's bulk
delete body: ``Number Deleted``, ``Number Not Found``, ``Errors``...).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import quote

from aiohttp import web

from martlet.body import read_limited
from martlet.config import is_true
from martlet.content_type import split_swift_bytes, with_swift_bytes
from martlet.errors import BadRequest, EntityTooLarge, MartletError, NotFound, Unprocessable
from martlet.swift_path import SwiftPath
from proxy.access import check_write
from proxy.constraints import check_object_body
from proxy.context import Context
from proxy.headers import content_type_of, object_headers
from proxy.large_objects.dlo import parse_dlo_manifest
from proxy.large_objects.fetch import (
    SLO_DEPTH, SLO_ETAG, SLO_SIZE, SegmentError, head_segment, is_slo, read_body, read_object,
)
from proxy.large_objects.manifest import (
    Segment, SegmentHead, SegmentRequest, check_segment, data_segment, normalize_etag, parse_put_manifest,
    parse_stored_manifest, CorruptManifest, problems_body, slo_etag, stored_json, total_length,
)
from proxy.large_objects.reader import manifest_body_limit
from proxy.large_objects.heartbeat import keep_alive
from proxy.large_objects.summary import Summary, error_body, status_line, summary_body, summary_format
from proxy.quorum import Written
from proxy.replicas import last_modified, new_timestamp, put_object, quorum_response, write_entity

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_DELETE_SEGMENTS = 100_000  # a bound on what one manifest DELETE walks
# The object server sends these instead of the manifest's own values in its
# container update (storage.container_updates.CONTAINER_UPDATE_OVERRIDES).
OVERRIDE_ETAG = "X-Backend-Container-Update-Override-Etag"
OVERRIDE_CONTENT_TYPE = "X-Backend-Container-Update-Override-Content-Type"
# A feature's own parameters for the manifest's container row ETag, passed
# as a backend header of its manifest PUT (s3api's ``s3_etag=<etag>``, which
# S3 listings show), appended after ``slo_etag``; never sent on as such.
ROW_ETAG_PARAMS = "X-Backend-Container-Row-Etag-Params"
# ...and kept with the manifest, for the row of a link made to it later
# (object versioning's link to a version, restored or new).
ROW_PARAMS_SYSMETA = "X-Object-Sysmeta-Container-Row-Etag-Params"


async def bounded_gather(limit: int, jobs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run ``jobs`` at most ``limit`` at a time, results in order."""
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(run(job) for job in jobs)))


async def read_manifest_request(ctx: Context, limit: int, client_timeout: float) -> bytes:
    """The client's manifest body (a subrequest's own, when it has one:
    an S3 multipart completion); 413 past ``limit``, 408 if it stalls."""
    if ctx.body is not None:
        data = bytearray()
        async for chunk in ctx.body:
            data += chunk
            if len(data) > limit:
                raise EntityTooLarge(f"Manifest File > {limit} bytes")
        return bytes(data)
    body = await read_limited(ctx.request, client_timeout, limit)
    if body is None:
        raise EntityTooLarge(f"Manifest File > {limit} bytes")
    return body


def parse_manifest_request(ctx: Context, body: bytes) -> list[SegmentRequest]:
    """The items of a client's manifest; 400 or 413 when malformed."""
    return parse_put_manifest(body, ctx.state.settings.max_manifest_segments)


async def _check_segments(ctx: Context, path: SwiftPath, requests: Sequence[SegmentRequest]
                          ) -> tuple[list[Segment], int, list[tuple[str, str]]]:
    """(segments to store, nesting depth, problems) of a PUT manifest."""
    settings = ctx.state.settings
    paths = sorted({r.path for r in requests if r.path is not None})
    heads = await bounded_gather(settings.slo_concurrency, [
        functools.partial(head_segment, ctx, path.account, p) for p in paths])
    head_of: dict[str, SegmentHead] = dict(zip(paths, heads))
    own_path = f"/{path.container}/{path.obj}"
    segments: list[Segment] = []
    problems: list[tuple[str, str]] = []
    depth = 1
    for index, request in enumerate(requests):
        if request.data is not None:
            segments.append(data_segment(request.data))
            continue
        assert request.path is not None
        head = head_of[request.path]
        segment, found = check_segment(request, head, own_path, settings.max_slo_recursion_depth,
                                       allow_empty=index == len(requests) - 1)
        problems.extend((request.sent_path or request.path, reason) for reason in found)
        if segment is not None:
            segments.append(segment)
            depth = max(depth, head.slo_depth + 1)
    return segments, depth, problems


async def _one_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def put_slo_manifest(ctx: Context) -> web.StreamResponse:
    """Validate a client's SLO manifest and store it. The request is
    checked as any object PUT is, in the same order, before its body is
    read; with ``?heartbeat=on`` a well-formed manifest is answered 202 at
    once and its outcome sent as a summary (``heartbeat``)."""
    request, path, settings = ctx.request, ctx.path, ctx.state.settings
    assert path.obj is not None
    check_object_body(request.headers, settings.max_file_size)
    headers = object_headers(request.headers, time.time())
    headers["Content-Type"] = content_type_of(request.headers, path.obj)
    headers.update(ctx.backend_headers)
    await check_write(ctx, path, need_container=True)
    body = await read_manifest_request(ctx, settings.max_manifest_size, settings.client_timeout)
    if is_true(request.query.get("heartbeat")):
        requests = parse_manifest_request(ctx, body)  # malformed: a plain 400, before the 202
        return await keep_alive(ctx, _summarize(ctx, path, headers, requests), "upload")
    return await store_slo_manifest(ctx, path, headers, body)


async def _summarize(ctx: Context, path: SwiftPath, headers: dict[str, str],
                     requests: Sequence[SegmentRequest]) -> Summary:
    """A heartbeating PUT's outcome, as its summary says it."""
    try:
        stored = await store_manifest(ctx, path, headers, requests)
    except MartletError as exc:
        return Summary({"Response Status": status_line(exc.http_status),
                        "Response Body": error_body(exc.http_status, exc.reason)})
    fields: dict[str, object] = {"Response Status": status_line(stored.status)}
    if stored.status == 201:
        fields.update({"Response Body": "", "Etag": stored.headers["ETag"],
                       "Last Modified": stored.headers["Last-Modified"]})
    else:
        fields["Response Body"] = error_body(stored.status)
    return Summary(fields, [(quote(p), reason) for p, reason in stored.problems])


def container_row_overrides(content_type: str, stored_md5: str, etag: str, total: int) -> dict[str, str]:
    """What the manifest's container row says instead of the manifest's own
    values (Swift's): the large object's total as ``swift_bytes`` in the
    content type, and its SLO ETag beside the manifest's md5. The row's
    size stays the manifest's, so container stats count stored bytes once
    (the segments count in their own container)."""
    return {
        OVERRIDE_CONTENT_TYPE: with_swift_bytes(content_type, total),
        OVERRIDE_ETAG: f"{stored_md5}; slo_etag={etag}",
    }


@dataclass(frozen=True)
class Stored:
    """How a manifest PUT ended: 201 with the large object's ETag and
    Last-Modified, 400 with the bad segments, 422 for the client's ETag,
    or the status a quorum of replicas agreed on (``written``)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    problems: Sequence[tuple[str, str]] = ()
    written: Written | None = None


async def store_manifest(ctx: Context, path: SwiftPath, headers: dict[str, str],
                         requests: Sequence[SegmentRequest]) -> Stored:
    """Check the segments of a parsed PUT manifest and store it; nothing is
    stored unless every segment is good."""
    segments, depth, problems = await _check_segments(ctx, path, requests)
    if problems:
        return Stored(400, problems=problems)
    etag = slo_etag(segments)
    given = [k for k in headers if k.lower() == "etag"]
    expected = normalize_etag(headers.pop(given[0])) if given else None
    if expected is not None and expected != etag:
        return Stored(422)
    stored = stored_json(segments)
    for name in [k for k in headers if k.lower() in ("x-object-manifest", "x-static-large-object")]:
        del headers[name]
    timestamp = new_timestamp()
    total, stored_md5 = total_length(segments), hashlib.md5(stored).hexdigest()
    content_type = split_swift_bytes(headers.get("Content-Type") or "application/octet-stream")[0]
    headers.update({
        "X-Static-Large-Object": "True", SLO_ETAG: etag, SLO_SIZE: str(total),
        SLO_DEPTH: str(depth), "ETag": stored_md5, "Content-Type": content_type,
        "Content-Length": str(len(stored)), "X-Timestamp": timestamp,
        **container_row_overrides(content_type, stored_md5, etag, total),
    })
    extra = headers.pop(ROW_ETAG_PARAMS, "")
    if extra:
        headers[OVERRIDE_ETAG] += f"; {extra}"
        headers[ROW_PARAMS_SYSMETA] = extra  # kept: a link to this manifest lists them too
    written = await put_object(ctx.state, path, headers, _one_chunk(stored), len(stored))
    if written.status != 201 or written.etag is None:
        return Stored(written.status, written=written)
    return Stored(201, {"ETag": f'"{etag}"', "Last-Modified": last_modified(timestamp)})


async def store_slo_manifest(ctx: Context, path: SwiftPath, headers: dict[str, str], body: bytes) -> web.Response:
    """Check the segments of ``body`` (the PUT form) and store the manifest;
    400 listing every bad segment, nothing stored. Also the way an SLO is
    copied as a manifest, so the copy is checked with the copier's access."""
    stored = await store_manifest(ctx, path, headers, parse_manifest_request(ctx, body))
    if stored.problems:
        content_type, text = problems_body(stored.problems, ctx.request.headers.get("Accept"))
        return web.Response(status=400, body=text, content_type=content_type)
    if stored.status == 422:
        raise Unprocessable("The client's ETag does not match the manifest's segments")
    if stored.written is not None:
        return quorum_response(stored.written)
    return web.Response(status=stored.status, headers=dict(stored.headers))


async def _manifest_segments(ctx: Context, path: SwiftPath) -> list[Segment] | None:
    """The stored segments of an SLO manifest; None if the object is no SLO."""
    answer = await read_object(ctx, path, "GET")
    response = answer.response
    if response is None:
        if 404 in answer.statuses:
            raise NotFound("SLO manifest not found")
        raise SegmentError("manifest unavailable")
    try:
        if response.status != 200:
            raise SegmentError(f"manifest answered {response.status}")
        if not is_slo(response.headers):
            return None
        return parse_stored_manifest(await read_body(response, manifest_body_limit(ctx)))
    except CorruptManifest as exc:
        raise SegmentError(str(exc)) from None
    finally:
        response.release()


async def _delete_one(ctx: Context, account: str, name: str) -> str:
    """'deleted', 'not found' or an error status text for the object
    ``/container/object`` (deleted with the client's own write access)."""
    container, _, obj = name.lstrip("/").partition("/")
    path = SwiftPath(account, container, obj)
    try:
        await check_write(ctx, path, need_container=False)
    except MartletError as exc:
        return f"{exc.http_status} {type(exc).__name__}"
    written = await write_entity(ctx.state, "DELETE", path, {"X-Timestamp": new_timestamp()}, update_parent=True)
    status = written.status
    if 200 <= status < 300:
        return "deleted"
    return "not found" if status == 404 else f"{status} Error"


async def _segments_to_delete(ctx: Context, path: SwiftPath, depth: int = 1
                              ) -> tuple[list[str], list[tuple[str, str]]] | None:
    """Every segment path of an SLO, a sub-SLO's own segments before it, and
    the sub-manifests that could not be read; None if ``path`` is no SLO."""
    segments = await _manifest_segments(ctx, path)
    if segments is None:
        return None
    paths: list[str] = []
    errors: list[tuple[str, str]] = []
    for segment in segments:
        if segment.name is None:
            continue
        if segment.sub_slo and depth < ctx.state.settings.max_slo_recursion_depth:
            container, obj = segment.split_name()
            try:
                inner = await _segments_to_delete(ctx, SwiftPath(path.account, container, obj), depth + 1)
            except NotFound:
                inner = None  # the DELETE below counts it as not found
            except SegmentError as exc:
                errors.append((segment.name, str(exc)))
                continue
            if inner is not None:
                paths.extend(inner[0])
                errors.extend(inner[1])
        paths.append(segment.name)
        if len(paths) > MAX_DELETE_SEGMENTS:
            raise BadRequest("Too many segments to delete")
    return paths, errors


def _summary(deleted: int, not_found: int, errors: list[tuple[str, str]], accept: str | None) -> web.Response:
    content_type = summary_format(accept)
    fields = {"Number Deleted": deleted, "Number Not Found": not_found, "Response Body": "",
              "Response Status": "400 Bad Request" if errors else "200 OK"}
    return web.Response(status=200, body=summary_body(content_type, fields, errors, "delete"),
                        content_type=content_type)


async def delete_slo(ctx: Context) -> web.Response:
    """Delete an SLO's segments, then (if they all went) its manifest. An
    object that is no SLO is deleted alone, with the same summary. The
    caller's write access to the manifest is checked first."""
    path = ctx.path
    await check_write(ctx, path, need_container=False)
    try:
        found = await _segments_to_delete(ctx, path)
    except SegmentError as exc:
        raise MartletError(f"Unable to load SLO manifest: {exc}") from None
    paths, errors = found if found is not None else ([], [])
    results = await bounded_gather(ctx.state.settings.slo_concurrency, [
        functools.partial(_delete_one, ctx, path.account, p) for p in paths])
    errors.extend((p, r) for p, r in zip(paths, results) if r not in ("deleted", "not found"))
    own = f"/{path.container}/{path.obj}"
    if not errors:
        results.append(await _delete_one(ctx, path.account, own))
        if results[-1] not in ("deleted", "not found"):
            errors.append((own, results[-1]))
    deleted, not_found = results.count("deleted"), results.count("not found")
    log.info("SLO deleted", extra={"path": own, "deleted": deleted, "not_found": not_found,
                                    "errors": len(errors)})
    return _summary(deleted, not_found, errors, ctx.request.headers.get("Accept"))


def check_manifest_headers(headers: Mapping[str, str], method: str, query: Mapping[str, str]) -> None:
    """400 for an ``X-Static-Large-Object`` set by hand or a malformed
    ``X-Object-Manifest`` (both would make an object that cannot be read)."""
    if "X-Static-Large-Object" in headers and not (method == "PUT" and query.get("multipart-manifest") == "put"):
        raise BadRequest("X-Static-Large-Object is a reserved header. To create a static large object "
                         "add query param multipart-manifest=put.")
    value = headers.get("X-Object-Manifest")
    if value:
        parse_dlo_manifest(value)
