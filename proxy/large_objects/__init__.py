"""Large objects, a pipeline feature: dynamic (``X-Object-Manifest``) and
static (``?multipart-manifest=...``) manifests, read back as one object.

Pure logic lives in ``manifest`` (SLO forms, validation, ETags), ``dlo``
(the manifest header, listing rows) and ``spans`` (ranges across
segments); ``fetch``, ``reader`` and ``writer`` are the thin async shell,
over the shared services (``proxy.access``, ``proxy.replicas``). The
object controller knows none of it: ``wrap`` puts the feature in front of
it (``proxy.pipeline``) and

* refuses a hand-set ``X-Static-Large-Object`` or a malformed
  ``X-Object-Manifest`` on a PUT or POST,
* answers ``PUT ?multipart-manifest=put`` and
  ``DELETE ?multipart-manifest=delete`` itself,
* looks at what an object GET or HEAD found, and serves a manifest's
  large object (or, with ``?multipart-manifest=get``, an SLO's manifest)
  in place of the manifest object.

A server-side copy whose source is a manifest (``proxy.server_copy``) uses
``manifest_behind``, ``open_large_object`` and ``copy_slo_manifest`` (``copy``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import aiohttp
from aiohttp import web

from martlet.errors import Conflict, MartletError
from martlet.swift_path import SwiftPath
from proxy.context import Context
from proxy.headers import backend_response_headers
from proxy.large_objects.copy import CopySource, copy_slo_manifest, open_large_object
from proxy.large_objects.fetch import SegmentError, is_dlo, is_manifest, is_slo, read_body, read_object
from proxy.large_objects.manifest import raw_json
from proxy.large_objects.reader import load_slo, manifest_body_limit, serve_large_object
from proxy.large_objects.writer import check_manifest_headers, delete_slo, put_slo_manifest
from proxy.object_stream import ObjectStream
from proxy.pipeline import Answer, Handler
from proxy.fanout import ReadResponse

__all__ = ["CopySource", "check_manifest_headers", "copy_slo_manifest", "is_dlo", "is_manifest", "is_slo",
           "manifest_behind", "open_large_object", "wrap"]

# A manifest whose own answer was one of these may hide a large object
# behind a condition or Range meant for it (the backend judged the manifest).
_JUDGED = (304, 412, 416)


def wrap(next_handler: Handler) -> Handler:
    """The pipeline entry point: large-object requests are answered here,
    and an object read that found a manifest is served as its large object."""

    async def handle(ctx: Context) -> Answer:
        if ctx.path.kind != "object":
            return await next_handler(ctx)
        method, query = ctx.method, ctx.request.query
        if method in ("PUT", "POST"):
            check_manifest_headers(ctx.request.headers, method, query)
        if method == "PUT" and query.get("multipart-manifest") == "put":
            return await put_slo_manifest(ctx)
        if method == "DELETE" and query.get("multipart-manifest") == "delete":
            return await delete_slo(ctx)
        answer = await next_handler(ctx)
        if isinstance(answer, ObjectStream):
            try:
                served = await serve_if_manifest(ctx, answer)
            except BaseException:
                answer.close()  # nobody will send it now
                raise
            if served is not None:
                return served
        return answer

    return handle


async def serve_if_manifest(ctx: Context, stream: ObjectStream) -> web.StreamResponse | None:
    """The answer for a large object, or None: ``stream`` (still open then)
    is sent as the plain object it is."""
    response = stream.response
    if ctx.request.query.get("multipart-manifest") == "get":
        if is_slo(response.headers) and response.status == 200:
            return await _manifest_answer(ctx, stream, ctx.request.query.get("format") == "raw")
        return None
    if is_manifest(response.headers):
        return await serve_large_object(ctx, stream.path, response)
    probe = await manifest_behind(ctx, stream.path, response, stream.sent)
    if probe is not None:
        stream.close()
        return await serve_large_object(ctx, stream.path, probe)
    return None


async def manifest_behind(ctx: Context, path: SwiftPath, response: ReadResponse,
                          sent: Mapping[str, str]) -> ReadResponse | None:
    """The (released) HEAD answer of a manifest hiding behind ``response``,
    or None. A backend that was ``sent`` conditions or a Range judged them
    against the manifest object; when that answered 304, 412 or 416, the
    object may be a large object the conditions were meant for."""
    if response.status not in _JUDGED or not sent:
        return None
    probe = await read_object(ctx, path, "HEAD")
    if probe.response is None:
        return None
    probe.response.release()
    if probe.response.status == 200 and is_manifest(probe.response.headers):
        return probe.response
    return None


async def _manifest_get(ctx: Context, path: SwiftPath) -> ReadResponse:
    """A GET answer of the SLO manifest (a HEAD has no body to convert)."""
    answer = await read_object(ctx, path, "GET")
    response = answer.response
    if response is None or response.status != 200 or not is_slo(response.headers):
        if response is not None:
            response.release()
        raise Conflict("The manifest changed during the read; try again")
    return response


async def _manifest_answer(ctx: Context, stream: ObjectStream, raw: bool) -> web.StreamResponse:
    """``?multipart-manifest=get`` of an SLO, GET or HEAD, as Swift answers
    it: the stored form as stored, typed ``application/json; charset=utf-8``;
    or with ``format=raw`` the form that can be PUT back, under the
    manifest's own content type (so that a copy of it is a manifest PUT of
    the same type) and the ETag of that body."""
    response = stream.response
    headers = {k: v for k, v in backend_response_headers(response.headers).items()
               if k.lower() not in ("content-type", "etag")}
    if raw:
        headers["Content-Type"] = response.headers.get("Content-Type", "application/octet-stream")
        source = response
        if response.method != "GET":
            response.release()
            source = await _manifest_get(ctx, stream.path)
        body: bytes | None = raw_json(await load_slo(ctx, stream.path, source))
    else:
        headers["Content-Type"] = "application/json; charset=utf-8"
        body = None
        if ctx.method == "GET":
            try:
                body = await read_body(response, manifest_body_limit(ctx))
            except SegmentError:
                raise MartletError("Unable to load SLO manifest") from None
    response.release()
    if body is None:  # a HEAD of the stored form: the backend's own length and ETag
        headers["ETag"] = response.headers.get("ETag", "")
        out = web.StreamResponse(status=200, headers=headers)
        out.content_length = int(response.headers.get("Content-Length", "0"))
    else:
        headers["ETag"] = hashlib.md5(body).hexdigest()
        if ctx.method == "GET":
            return web.Response(status=200, body=body, headers=headers)
        out = web.StreamResponse(status=200, headers=headers)
        out.content_length = len(body)
    await out.prepare(ctx.request)
    await out.write_eof()
    return out
