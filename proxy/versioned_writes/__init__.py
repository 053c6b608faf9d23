"""Legacy versioned writes, a pipeline feature (``[versioned_writes]``):
Swift's ``X-Versions-Location`` (stack mode) and ``X-History-Location``
(history mode).

* A container's owner names a versions container with one of the two
  headers (URL-quoted, as Swift takes it); it is kept as container system
  metadata (``X-Container-Sysmeta-Versions-Location`` and ``-Mode``) and
  shown back under the header that set it. An empty value or
  ``X-Remove-Versions-Location`` / ``X-Remove-History-Location`` turns
  versioning off; setting both modes at once is a 400, a location with a
  slash (or none) a 412, and nothing is stored.
* Before an object in such a container is overwritten (a PUT, a copy onto
  it, a manifest PUT), its current version is copied, data and metadata,
  into the versions container as ``<len(name):03x><name>/<timestamp>``
  (the length in UTF-8 bytes, the timestamp the old version's own).
* A DELETE in stack mode puts the newest archived version back in place
  and removes it from the versions container; in history mode it archives
  the current version, writes a delete marker (an empty object of type
  ``application/x-deleted;swift_versions_deleted=1``) and deletes.

As Swift, what is checked is the caller's right to write the versioned
object (401/403 before anything is read); the archive and restore copies
are the feature's own, so a writer needs no rights on the versions
container itself (and gains none: reading or deleting there directly is
decided by that container's ACLs). A versions container that is missing
or refuses the copy makes the write a 412, one that cannot be reached a
503, and the write is then not made.

A request that writes no object in a versioned container costs a cached
container lookup; containers without a versions location cost nothing more.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from martlet.body import no_body
from martlet.errors import EntityTooLarge, MartletError, NotFound, PreconditionFailed, ServiceUnavailable
from martlet.swift_path import SwiftPath
from proxy.access import check_read, check_write
from proxy.constraints import (
    MAX_OBJECT_NAME_LENGTH,
    check_copy_path,
    check_metadata,
    check_names,
    check_object_body,
    decode_segment,
)
from proxy.container_info import container_info
from proxy.context import Context
from proxy.fanout import NODE_ERRORS, ReadResponse
from proxy.pipeline import Answer, Handler, on_response
from proxy.replicas import (
    new_timestamp,
    put_object,
    quorum_response,
    read_entity,
    relay_chunks,
    write_entity,
)
from proxy.versioned_writes.rules import (
    DELETE_MARKER,
    LISTING_PAGE,
    STACK,
    Versioning,
    copy_headers,
    fail_with,
    location_shown,
    location_updates,
    version_name,
    version_prefix,
    versioning_of,
)

__all__ = ["wrap"]


def wrap(next_handler: Handler) -> Handler:
    """Versioning locations on containers; archives and restores on writes."""

    async def handle(ctx: Context) -> Answer:
        kind, method = ctx.path.kind, ctx.method
        if kind == "container":
            if method in ("PUT", "POST"):
                ctx = ctx.with_backend_headers(location_updates(ctx.request.headers))
            elif method in ("GET", "HEAD"):
                _show_location(ctx)
        elif kind == "object" and method in ("PUT", "COPY", "DELETE"):
            target = _written_object(ctx)
            versioning = await _versioning(ctx, target) if target is not None else None
            if target is not None and versioning is not None:
                if method == "DELETE" and versioning.mode == STACK:
                    return await _pop(ctx, versioning, next_handler)
                if method == "DELETE":
                    await _archive(ctx, target, versioning)
                    await _write_marker(ctx, target, versioning)
                elif await _overwrite_allowed(ctx):
                    await _archive(ctx, target, versioning)
        return await next_handler(ctx)

    return handle


def _show_location(ctx: Context) -> None:
    async def show(response: web.StreamResponse) -> None:
        if response.status >= 300:
            return
        try:
            info = await container_info(ctx.state, ctx.path)
        except MartletError:
            return
        response.headers.update(location_shown(info.sysmeta))

    on_response(ctx, show)


def _written_object(ctx: Context) -> SwiftPath | None:
    """The object a PUT, COPY or DELETE writes (None: a malformed COPY,
    which the copy itself answers)."""
    if ctx.method != "COPY":
        return ctx.path
    headers = ctx.request.headers
    try:
        container, obj = check_copy_path(headers.get("Destination", ""))
        account = ctx.path.account
        if headers.get("Destination-Account"):
            account = decode_segment(headers["Destination-Account"])
            check_names(account, None, None)
    except MartletError:
        return None
    return SwiftPath(account, container, obj)


async def _versioning(ctx: Context, obj: SwiftPath) -> Versioning | None:
    try:
        return versioning_of(await container_info(ctx.state, obj.container_path()))
    except MartletError:
        return None  # the request itself will meet the same trouble


async def _overwrite_allowed(ctx: Context) -> bool:
    """Will the PUT or copy be made? Checked before the current version is
    archived, so that a refused write archives nothing: the body's and
    metadata's limits for a PUT, a readable source for a copy (the copy
    and large-object features check the rest themselves)."""
    headers = ctx.request.headers
    source: SwiftPath | None = None
    if ctx.method == "COPY":
        source = ctx.path
    elif "X-Copy-From" in headers:
        if headers.get("Content-Length", "0") not in ("0", ""):
            return False  # the copy answers 400
        try:
            container, obj = check_copy_path(headers["X-Copy-From"])
        except MartletError:
            return False
        account = ctx.path.account
        if headers.get("X-Copy-From-Account"):
            try:
                account = decode_segment(headers["X-Copy-From-Account"])
            except MartletError:
                return False
        source = SwiftPath(account, container, obj)
    else:
        check_object_body(headers, ctx.state.settings.max_file_size)
        check_metadata(headers, "object")
        return True
    try:
        await check_read(ctx, source)
    except MartletError:
        return False
    answer = await read_entity(ctx.state, source, "HEAD", {})
    if answer.response is None:
        return False
    answer.response.release()
    return answer.response.status == 200


async def _open(ctx: Context, path: SwiftPath) -> ReadResponse | None:
    """The newest replica's stored object at ``path``, still open; None
    when there is none."""
    answer = await read_entity(ctx.state, path, "GET", {}, newest=True)
    if answer.response is None:
        if 404 in answer.statuses:
            return None
        raise ServiceUnavailable("Could not read the object to version")
    if answer.response.status != 200:
        answer.response.release()
        raise fail_with(answer.response.status)
    return answer.response


async def _copy(ctx: Context, response: ReadResponse, dest: SwiftPath) -> None:
    """Store what ``response`` streams (a stored object) at ``dest``."""
    length = int(response.headers.get("Content-Length") or 0)
    if length > ctx.state.settings.max_file_size:
        raise EntityTooLarge("The object is too large to version")
    headers = copy_headers(response.headers)
    headers.update({"X-Timestamp": new_timestamp(), "Content-Length": str(length)})
    chunks = relay_chunks(response, ctx.state.settings.chunk_size, "Versioned copy")
    written = await put_object(ctx.state, dest, headers, chunks, length)
    if not 200 <= written.status < 300:
        raise fail_with(written.status)


async def _versions_container(ctx: Context, obj: SwiftPath, versioning: Versioning, name: str) -> SwiftPath:
    """The path of version ``name`` of ``obj``; 412 when the versions
    container is missing or the name too long for it (as Swift's refused
    copy), 503 when it cannot be read."""
    if len(name.encode("utf-8")) > MAX_OBJECT_NAME_LENGTH:
        raise PreconditionFailed()
    versions = SwiftPath(obj.account, versioning.container)
    try:
        await container_info(ctx.state, versions)
    except NotFound:
        raise PreconditionFailed() from None
    return SwiftPath(obj.account, versioning.container, name)


async def _archive(ctx: Context, obj: SwiftPath, versioning: Versioning) -> None:
    """Copy the current version of ``obj`` (if any) into the versions
    container, once the caller is known to be allowed to change ``obj``."""
    assert obj.obj is not None
    await check_write(ctx, obj, need_container=True)
    response = await _open(ctx, obj)
    if response is None:
        return
    if ctx.method == "PUT" and ctx.request.headers.get("If-None-Match", "").strip() == "*":
        response.release()
        return  # the object exists: the PUT will be refused (412), nothing to keep
    try:
        stamp = response.headers.get("X-Timestamp") or new_timestamp()
        dest = await _versions_container(ctx, obj, versioning, version_name(obj.obj, stamp))
        await _copy(ctx, response, dest)
    finally:
        response.release()


async def _write_marker(ctx: Context, obj: SwiftPath, versioning: Versioning) -> None:
    """History mode: record the delete in the versions container."""
    assert obj.obj is not None
    timestamp = new_timestamp()
    dest = await _versions_container(ctx, obj, versioning, version_name(obj.obj, timestamp))
    headers = {"Content-Type": DELETE_MARKER, "Content-Length": "0", "X-Timestamp": timestamp}
    written = await put_object(ctx.state, dest, headers, no_body(), 0)
    if not 200 <= written.status < 300:
        raise fail_with(written.status)


@dataclass(frozen=True)
class _Row:
    name: str
    content_type: str


async def _newest_first(ctx: Context, obj: SwiftPath, versioning: Versioning) -> AsyncIterator[_Row]:
    """The versions of ``obj``, newest first; none when the versions
    container is missing. 412 when it refuses, 503 when it cannot be read."""
    assert obj.obj is not None
    container = SwiftPath(obj.account, versioning.container)
    marker = ""
    while True:
        query = {"format": "json", "prefix": version_prefix(obj.obj), "reverse": "on", "limit": str(LISTING_PAGE)}
        if marker:
            query["marker"] = marker
        answer = await read_entity(ctx.state, container, "GET", {}, query)
        response = answer.response
        if response is None:
            if 404 in answer.statuses:
                return
            raise ServiceUnavailable("Could not list the versions")
        try:
            if response.status == 204:
                return
            if response.status != 200:
                raise fail_with(response.status)
            rows = json.loads(await response.read())
        except (ValueError, *NODE_ERRORS):
            raise ServiceUnavailable("Could not list the versions") from None
        finally:
            response.release()
        if not isinstance(rows, list):
            raise ServiceUnavailable("Could not list the versions")
        for row in rows:
            yield _Row(str(row.get("name", "")), str(row.get("content_type", "")))
        if len(rows) < LISTING_PAGE:
            return
        marker = str(rows[-1].get("name", ""))


async def _restore(ctx: Context, obj: SwiftPath, version: SwiftPath) -> bool:
    """Copy ``version`` back over ``obj``; False when it has gone meanwhile."""
    response = await _open(ctx, version)
    if response is None:
        return False
    try:
        await _copy(ctx, response, obj)
    finally:
        response.release()
    return True


async def _delete(ctx: Context, path: SwiftPath) -> int:
    written = await write_entity(ctx.state, "DELETE", path, {"X-Timestamp": new_timestamp()}, update_parent=True)
    return written.status


async def _pop(ctx: Context, versioning: Versioning, next_handler: Handler) -> Answer:
    """Stack mode DELETE: the newest archived version takes the object's
    place and leaves the versions container (the client is answered by
    that removal); with none, the object is simply deleted. A delete marker
    left by history mode is undone the same way: when it is the current
    state, the version before it comes back and the marker goes."""
    obj = ctx.path
    assert obj.obj is not None
    checked = False
    rows = _newest_first(ctx, obj, versioning)
    async for row in rows:
        if not checked:
            await check_write(ctx, obj, need_container=False)
            checked = True
        version = SwiftPath(obj.account, versioning.container, row.name)
        if row.content_type == DELETE_MARKER:
            if await _exists(ctx, obj):
                break  # written since the marker: delete that, as usual
            async for older in rows:
                if older.content_type == DELETE_MARKER:
                    break
                older_path = SwiftPath(obj.account, versioning.container, older.name)
                if not await _restore(ctx, obj, older_path):
                    continue
                status = await _delete(ctx, older_path)
                if status != 404 and not 200 <= status < 300:
                    raise fail_with(status)
                break
            return await _delete_answer(ctx, version)
        if await _restore(ctx, obj, version):
            return await _delete_answer(ctx, version)
    return await next_handler(ctx)


async def _exists(ctx: Context, obj: SwiftPath) -> bool:
    answer = await read_entity(ctx.state, obj, "HEAD", {}, newest=True)
    if answer.response is None:
        if 404 in answer.statuses:
            return False
        raise ServiceUnavailable("Could not read the object")
    answer.response.release()
    if answer.response.status >= 300:
        raise fail_with(answer.response.status)
    return True


async def _delete_answer(ctx: Context, version: SwiftPath) -> web.Response:
    written = await write_entity(ctx.state, "DELETE", version, {"X-Timestamp": new_timestamp()},
                                 update_parent=True)
    return quorum_response(written)
