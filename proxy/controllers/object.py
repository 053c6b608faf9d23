"""``/v1/<account>/<container>/<object>``: GET, HEAD, PUT, POST, DELETE.

Every check that can refuse a request (names, metadata, lengths, ACLs, the
container's existence) runs before any replica is written to. A GET or HEAD
is answered with the replica's answer still unsent (``ObjectStream``), so
that features wrapping this controller (``proxy.pipeline``) can see what
the object is; server-side copies and large objects are such features.
"""

from __future__ import annotations

import time

from aiohttp import web

from proxy.access import check_read, check_write
from proxy.constraints import check_method, check_object_body
from proxy.context import Context
from proxy.controllers.options import ALLOWED_METHODS
from proxy.fanout import read_first
from proxy.headers import READ_HEADERS, content_type_of, object_headers
from proxy.object_stream import ObjectStream
from proxy.replicas import (
    new_timestamp,
    place,
    put_object,
    put_response,
    quorum_response,
    raise_for_missing,
    wants_newest,
    write_entity,
)


async def handle_object(ctx: Context) -> web.StreamResponse | ObjectStream:
    method = ctx.method
    check_method(method, ALLOWED_METHODS["object"])
    if method in ("GET", "HEAD"):
        return await _read(ctx)
    if method == "PUT":
        return await _put(ctx)
    if method == "POST":
        return await _post(ctx)
    return await _delete(ctx)


async def _read(ctx: Context) -> ObjectStream:
    await check_read(ctx, ctx.path)
    sent = {h: ctx.request.headers[h] for h in READ_HEADERS if h in ctx.request.headers}
    ring, part, _, headers = await place(ctx.state, ctx.path, sent)
    answer = await read_first(ctx.state, ring, part, ctx.method, ctx.path, headers,
                              newest=wants_newest(ctx.request.headers))
    raise_for_missing(answer)
    return ObjectStream(ctx.state, ctx.path, ring, part, answer, headers)


async def _put(ctx: Context) -> web.StreamResponse:
    request, path = ctx.request, ctx.path
    assert path.obj is not None
    length = check_object_body(request.headers, ctx.state.settings.max_file_size)
    headers = object_headers(request.headers, time.time())
    headers["Content-Type"] = content_type_of(request.headers, path.obj)
    headers.update(ctx.backend_headers)
    await check_write(ctx, path, need_container=True)
    timestamp = new_timestamp()
    headers["X-Timestamp"] = timestamp
    if length is not None:
        headers["Content-Length"] = str(length)
    written = await put_object(ctx.state, path, headers, ctx.body_chunks(), length)
    return put_response(written, timestamp)


async def _post(ctx: Context) -> web.StreamResponse:
    headers = object_headers(ctx.request.headers, time.time())
    headers.update(ctx.backend_headers)
    await check_write(ctx, ctx.path, need_container=True)
    headers["X-Timestamp"] = new_timestamp()
    return quorum_response(await write_entity(ctx.state, "POST", ctx.path, headers, update_parent=True))


async def _delete(ctx: Context) -> web.StreamResponse:
    await check_write(ctx, ctx.path, need_container=False)
    headers = {"X-Timestamp": new_timestamp()}
    if_delete_at = ctx.request.headers.get("X-If-Delete-At")
    if if_delete_at is not None:
        headers["X-If-Delete-At"] = if_delete_at  # each replica judges it against what it holds
    return quorum_response(await write_entity(ctx.state, "DELETE", ctx.path, headers, update_parent=True))
