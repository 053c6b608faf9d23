"""``?version-id=``: one version of an object read, deleted or made the
current one (PUT); POST to one is a 400, and so is any id but ``null`` on
a container never versioned. A version is read or deleted by the
account's owners only (``store.check_owner``).
"""

from __future__ import annotations

from aiohttp import web

from martlet.errors import BadRequest, LengthRequired, MartletError, NotFound
from martlet.swift_path import SwiftPath
from proxy.access import check_read, check_write
from proxy.container_info import container_info
from proxy.context import Context
from proxy.object_stream import ObjectStream
from proxy.object_versioning.names import (
    DELETE_MARKER, NULL, Versioning, check_version, parse_version_object,
)
from proxy.object_versioning.store import (
    NO_VERSIONS, at, check_owner, failure, link_target, put_link, raw_read, version_path, versions_link,
)
from proxy.pipeline import Answer, Handler, on_response
from proxy.replicas import new_timestamp, write_entity


async def handle_version_id(ctx: Context, versioning: Versioning, given: str, next_handler: Handler) -> Answer:
    method = ctx.method
    if method == "POST":
        raise BadRequest(f"{method} to a specific version is not allowed")
    if not versioning.ever and given != NULL:
        raise BadRequest("version-aware operations require that the container is versioned")
    check_version(given)
    if method == "OPTIONS":
        return await next_handler(ctx)
    if method == "DELETE":
        return await _delete_version(ctx, versioning, given, next_handler)
    if method == "PUT":
        return await _restore(ctx, versioning, given)
    if given == NULL:
        return await _read_null(ctx, versioning, next_handler)
    return await _read_version(ctx, versioning, given, next_handler)


async def _read_version(ctx: Context, versioning: Versioning, given: str, next_handler: Handler) -> Answer:
    obj = ctx.path
    assert obj.obj is not None
    await check_owner(ctx, await check_read(ctx, obj))

    async def mark(response: web.StreamResponse) -> None:
        response.headers["X-Object-Version-Id"] = given

    on_response(ctx, mark, last=True)
    answer = await next_handler(at(ctx, version_path(ctx, versioning, obj.obj, given)))
    if isinstance(answer, ObjectStream):
        stored_type = answer.response.headers.get("Content-Type", "")
        if stored_type == DELETE_MARKER:
            answer.close()
            raise NotFound(headers={"X-Object-Version-Id": given, "Content-Type": DELETE_MARKER})
    return answer


async def check_null(ctx: Context, versioning: Versioning, obj: SwiftPath) -> None:
    """``version-id=null`` of ``obj`` (a GET's, or a COPY's source) is the
    object in the primary: 404 when that is a link to a real version."""
    if versioning.ever:
        await check_read(ctx, obj)
        if await versions_link(ctx, obj) is not None:
            raise NotFound()


async def _read_null(ctx: Context, versioning: Versioning, next_handler: Handler) -> Answer:
    """``version-id=null``: the object in the primary, unless it is a link
    to a real version."""
    await check_null(ctx, versioning, ctx.path)

    async def mark(response: web.StreamResponse) -> None:
        if response.status < 300:
            response.headers["X-Object-Version-Id"] = NULL

    on_response(ctx, mark, last=True)
    return await next_handler(ctx)


async def _delete_version(ctx: Context, versioning: Versioning, given: str, next_handler: Handler) -> Answer:
    """DELETE ``?version-id``: that version; when it is the current one,
    the link to it too."""
    obj = ctx.path
    assert obj.obj is not None
    if given == NULL or not versioning.ever:
        return await next_handler(ctx)
    await check_owner(ctx, await check_write(ctx, obj, need_container=True))
    current = await link_target(ctx, obj, versioning)
    version = version_path(ctx, versioning, obj.obj, given)
    if current is not None and current == version.obj:
        written = await write_entity(ctx.state, "DELETE", obj, {"X-Timestamp": new_timestamp()}, update_parent=True)
        if not (200 <= written.status < 300 or written.status == 404):
            raise failure(written.status)
        now_current = NULL
    else:
        now_current = (parse_version_object(current)[1] if current else None) or NULL
    answer = await next_handler(at(ctx, version))
    if isinstance(answer, web.StreamResponse):
        answer.headers["X-Object-Version-Id"] = given
        answer.headers["X-Object-Current-Version-Id"] = now_current
    return answer


async def _restore(ctx: Context, versioning: Versioning, given: str) -> Answer:
    """PUT ``?version-id``: that version becomes the current one (a new link)."""
    obj = ctx.path
    assert obj.obj is not None
    check_version(given, allow_null=False)
    headers = ctx.request.headers
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        if await ctx.request.content.read(1):
            raise BadRequest("PUT version-id requests require a zero byte body")
    elif "Content-Length" not in headers:
        raise LengthRequired()
    elif headers["Content-Length"].strip() not in ("0", ""):
        raise BadRequest("PUT version-id requests require a zero byte body")
    await check_write(ctx, obj, need_container=True)
    version = version_path(ctx, versioning, obj.obj, given)
    stored = await raw_read(ctx, version, "HEAD")
    if stored is None:
        try:
            await container_info(ctx.state, version.container_path())
        except NotFound:
            raise MartletError(NO_VERSIONS) from None
        raise NotFound("The specified version does not exist")
    stored.release()
    return await put_link(ctx, obj, version, stored.headers, None)
