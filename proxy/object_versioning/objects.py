"""Object requests in a container that is, or was, versioned.

* A write while versioning is enabled (PUT, a copy onto the object, a
  manifest PUT) stores the new data as a version in the versions
  container (the write itself goes down the rest of the pipeline under
  the version's name), then puts a static link to it in the primary
  container (``versions-symlink`` system metadata marks it). An object
  there that is no such link (a ``null`` version, written while
  versioning was off) is first copied into the versions container.
* A DELETE writes a delete marker version, then deletes the link.
* ``?version-id=`` is ``version_ids``'s; a COPY is decided by its
  destination's versioning (and its source may be one version).

The caller's rights are checked on the object the client named; the
feature's own reads and writes in the versions container need none
(``proxy.access``).
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from martlet.body import no_body
from martlet.errors import BadRequest, MartletError, NotFound, ServiceUnavailable
from martlet.reserved import is_reserved
from martlet.swift_path import SwiftPath
from martlet.timestamp import Timestamp
from proxy import server_copy
from proxy.access import check_read, check_write
from proxy.container_info import container_info
from proxy.context import Context
from proxy.object_versioning.names import (
    DELETE_MARKER, NEVER, NULL, Versioning, check_version, location_in, parse_version_object,
    target_in, version_id, version_object, versioning_of,
)
from proxy.object_versioning.store import (
    EXPIRY, NO_VERSIONS, answer_status, at, check_owner, copy_current, failure, link_target, put_link,
    raw_read, version_path,
)
from proxy.object_versioning.version_ids import check_null, handle_version_id
from proxy.pipeline import Answer, Handler, on_response
from proxy.replicas import put_object


async def handle_object(ctx: Context, versioning: Versioning, next_handler: Handler) -> Answer:
    """Any object request in a container with ``versioning`` (possibly
    never versioned, for a ``?version-id``); a COPY is ``handle_copy``'s."""
    given = ctx.request.query.get("version-id")
    if given is not None and given != "":
        return await handle_version_id(ctx, versioning, given, next_handler)
    if not versioning.ever:
        return await next_handler(ctx)
    method = ctx.method
    if method == "PUT" and versioning.enabled:
        return await _write(ctx, versioning, next_handler)
    if method == "DELETE" and versioning.enabled:
        return await _delete(ctx, versioning, next_handler)
    if method == "POST":
        return await _post(ctx, versioning, next_handler)
    if method in ("GET", "HEAD"):
        _annotate(ctx, versioning)
    return await next_handler(ctx)


# -- writes -------------------------------------------------------------------


async def _write(ctx: Context, versioning: Versioning, next_handler: Handler,
                 source: SwiftPath | None = None, obj: SwiftPath | None = None) -> Answer:
    """A PUT, or a copy of ``source`` onto ``obj``, while versioning of
    the object's container is enabled."""
    if source is None and "X-Copy-From" in ctx.request.headers:
        source, obj = server_copy.copy_paths(ctx)
    obj = obj or ctx.path
    assert obj.obj is not None
    await check_write(ctx, obj, need_container=True)
    await copy_current(ctx, versioning, obj)
    version = version_path(ctx, versioning, obj.obj, Timestamp.now().internal)
    if source is not None:
        answer: Answer = await server_copy.copy_object(ctx, source, version)
    else:
        kept = {k: v for k, v in ctx.request.headers.items() if k.lower() not in EXPIRY}
        answer = await next_handler(at(ctx, version, kept))
    status = answer_status(answer)
    if status == 404:
        raise MartletError(NO_VERSIONS)
    if not 200 <= status < 300:
        return answer
    etag = answer.headers.get("ETag") if isinstance(answer, web.StreamResponse) else None
    stored = await raw_read(ctx, version, "HEAD")
    if stored is None:
        raise ServiceUnavailable("The new version went missing")
    stored.release()
    response = await put_link(ctx, obj, version, stored.headers, etag)
    if source is not None and isinstance(answer, web.StreamResponse):
        for name in ("X-Copied-From", "X-Copied-From-Account", "X-Copied-From-Last-Modified"):
            if name in answer.headers:
                response.headers[name] = answer.headers[name]
        if is_reserved(source.container) and "X-Copied-From" in response.headers:
            response.headers["X-Copied-From"] = quote(f"{ctx.path.container}/{ctx.path.obj}")  # a COPY's source
    return response


async def handle_copy(ctx: Context, next_handler: Handler) -> Answer:
    """A COPY: from one version (``?version-id``), and into a container
    whose versioning is enabled as a new version; any other is the copy
    feature's alone."""
    try:
        source, dest = server_copy.copy_paths(ctx)
    except MartletError:
        return await next_handler(ctx)  # the copy answers it
    given = ctx.request.query.get("version-id")
    moved = False
    if given == NULL:
        await check_null(ctx, await versioning_at(ctx, source), source)
    elif given:
        source_versioning = await versioning_at(ctx, source)
        if not source_versioning.ever:
            raise BadRequest("version-aware operations require that the container is versioned")
        check_version(given)
        assert source.obj is not None
        await check_owner(ctx, await check_read(ctx, source))
        source = SwiftPath(source.account, source_versioning.container, version_object(source.obj, given))
        moved = True
    dest_versioning = await versioning_at(ctx, dest)
    if dest_versioning.enabled:
        return await _write(ctx, dest_versioning, next_handler, source, dest)
    if moved:
        return await server_copy.copy_object(ctx, source, dest)
    return await next_handler(ctx)


async def versioning_at(ctx: Context, obj: SwiftPath) -> Versioning:
    """The versioning of ``obj``'s container (cached container info)."""
    try:
        return versioning_of((await container_info(ctx.state, obj.container_path())).sysmeta)
    except MartletError:
        return NEVER  # the request itself will meet the same trouble


async def _delete(ctx: Context, versioning: Versioning, next_handler: Handler) -> Answer:
    """DELETE while versioning is enabled: a delete marker, then the link goes."""
    obj = ctx.path
    assert obj.obj is not None
    await check_write(ctx, obj, need_container=True)
    await copy_current(ctx, versioning, obj)
    stamp = Timestamp.now().internal
    marker = version_path(ctx, versioning, obj.obj, stamp)
    headers = {"Content-Type": DELETE_MARKER, "Content-Length": "0", "X-Timestamp": stamp}
    written = await put_object(ctx.state, marker, headers, no_body(), 0)
    if not 200 <= written.status < 300:
        raise failure(written.status)
    marked = {"X-Object-Version-Id": version_id(stamp)}
    try:
        answer = await next_handler(ctx)
    except NotFound as exc:
        exc.headers.update(marked)
        raise
    if isinstance(answer, web.StreamResponse):
        answer.headers.update(marked)
    return answer


async def _post(ctx: Context, versioning: Versioning, next_handler: Handler) -> Answer:
    """A POST to the link of the current version updates that version too.
    The link is known before the POST (the symlink feature's 307 comes
    from a read after it, which a POST setting a near expiry may outrun)."""
    target = await link_target(ctx, ctx.path, versioning)
    answer = await next_handler(ctx)
    if not isinstance(answer, web.StreamResponse) or answer.status not in (202, 307):
        return answer
    if answer.status == 307:
        target = location_in(answer.headers.get("Location", ""), ctx.path.account, versioning.container) or target
    if target is None:
        return answer
    kept = {k: v for k, v in ctx.request.headers.items() if k.lower() not in EXPIRY}
    return await next_handler(at(ctx, SwiftPath(ctx.path.account, versioning.container, target), kept))


def _annotate(ctx: Context, versioning: Versioning) -> None:
    """A read's answer names the version it shows (``null``: none)."""
    path = ctx.path

    async def annotate(response: web.StreamResponse) -> None:
        response.headers["X-Object-Version-Id"] = NULL
        location = response.headers.get("Content-Location")
        if location:
            name = location_in(location, path.account, versioning.container)
            found = parse_version_object(name)[1] if name else None
            if found is not None:
                response.headers["X-Object-Version-Id"] = found
                response.headers["Content-Location"] = \
                    f"/v1/{quote(path.account)}/{quote(f'{path.container}/{path.obj}')}?version-id={found}"
        target = response.headers.get("X-Symlink-Target")
        if target:
            name = target_in(target, versioning.container)
            found = parse_version_object(name)[1] if name else None
            if found is not None:
                response.headers["X-Object-Version-Id"] = found
                response.headers["X-Symlink-Target"] = f"{quote(f'{path.container}/{path.obj}')}?version-id={found}"

    on_response(ctx, annotate, last=True)  # after the symlink feature's Content-Location
