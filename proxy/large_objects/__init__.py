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
``open_large_object`` and ``copy_slo_manifest`` (``copy``).
"""

from __future__ import annotations

import hashlib

from aiohttp import web

from martlet.errors import MartletError
from proxy.context import Context
from proxy.headers import backend_response_headers
from proxy.large_objects.copy import CopySource, copy_slo_manifest, open_large_object
from proxy.large_objects.fetch import SegmentError, is_dlo, is_manifest, is_slo, read_body, read_object
from proxy.large_objects.manifest import raw_json
from proxy.large_objects.reader import load_slo, manifest_body_limit, serve_large_object
from proxy.large_objects.writer import check_manifest_headers, delete_slo, put_slo_manifest
from proxy.object_stream import ObjectStream
from proxy.pipeline import Answer, Handler

__all__ = ["CopySource", "check_manifest_headers", "copy_slo_manifest", "is_dlo", "is_manifest", "is_slo",
           "open_large_object", "wrap"]

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
        if is_slo(response.headers) and response.status == 200 and ctx.method == "GET":
            return await _manifest_json(ctx, stream, ctx.request.query.get("format") == "raw")
        return None
    if is_manifest(response.headers):
        return await serve_large_object(ctx, stream.path, response)
    if response.status in _JUDGED and stream.sent:
        probe = await read_object(ctx, stream.path, "HEAD")
        if probe.response is not None:
            probe.response.release()
            if probe.response.status == 200 and is_manifest(probe.response.headers):
                stream.close()
                return await serve_large_object(ctx, stream.path, probe.response)
    return None


async def _manifest_json(ctx: Context, stream: ObjectStream, raw: bool) -> web.Response:
    """``?multipart-manifest=get``: the stored form as stored, or with
    ``format=raw`` the form that can be PUT back."""
    response = stream.response
    headers = backend_response_headers(response.headers)
    if raw:
        body = raw_json(await load_slo(ctx, stream.path, response))
    else:
        try:
            body = await read_body(response, manifest_body_limit(ctx))
        except SegmentError:
            raise MartletError("Unable to load SLO manifest") from None
        finally:
            response.release()
    for name in [k for k in headers if k.lower() in ("content-type", "etag")]:
        del headers[name]
    headers["ETag"] = hashlib.md5(body).hexdigest()
    return web.Response(status=200, body=body, headers=headers, content_type="application/json",
                        charset="utf-8")
