"""Object requests in a container that is, or was, versioned.

* A write while versioning is enabled (PUT, a copy onto the object, a
  manifest PUT) stores the new data as a version in the versions
  container (the write itself goes down the rest of the pipeline under
  the version's name), then puts a static link to it in the primary
  container (``versions-symlink`` system metadata marks it). An object
  there that is no such link (a ``null`` version, written while
  versioning was off) is first copied into the versions container.
* A DELETE writes a delete marker version, then deletes the link.
* ``?version-id=`` reads, deletes or (PUT) restores one version; POST to
  one is a 400, and so is any id but ``null`` where versioning never was.

The caller's rights are checked on the object the client named; the
feature's own reads and writes in the versions container need none
(``proxy.access``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from urllib.parse import quote

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from martlet.errors import (
    BadRequest, EntityTooLarge, Forbidden, LengthRequired, MartletError, NotFound, PreconditionFailed, ServiceUnavailable,
)
from martlet.content_type import split_swift_bytes
from martlet.reserved import is_reserved
from martlet.swift_path import SwiftPath
from martlet.timestamp import Timestamp
from proxy import server_copy
from proxy.access import check_read, check_write
from proxy.authorization import Grant
from proxy.container_info import container_info
from proxy.context import Context
from proxy.headers import object_headers
from proxy.object_stream import ObjectStream
from proxy.object_versioning.names import (
    DELETE_MARKER, NULL, SYSMETA_SYMLINK, Versioning, check_version, location_in, parse_version_object,
    target_in, version_id, version_object, versioning_of,
)
from proxy.pipeline import Answer, Handler, on_response
from proxy.replicas import new_timestamp, put_object, put_response, read_entity, relay_chunks, write_entity
from proxy.symlink.links import ETAG_SYSMETA, Link, link_headers, validated_by
from proxy.versioned_writes.rules import copy_headers

_NO_VERSIONS = "The versions container does not exist. You may want to re-enable object versioning."
# A version never expires: only the link to it does (as Swift).
_EXPIRY = ("x-delete-at", "x-delete-after")
# What the link in the primary container never carries of the client's write.
_NOT_FOR_LINK = ("etag", "x-if-delete-at", "x-object-manifest", "x-static-large-object", "x-symlink-target",
                 "x-symlink-target-account", "x-symlink-target-etag", "content-length", "transfer-encoding")


async def handle_object(ctx: Context, versioning: Versioning, next_handler: Handler) -> Answer:
    """Any object request in a container with ``versioning`` (possibly
    never versioned, for a ``?version-id``)."""
    if ctx.method == "COPY":
        return await handle_copy(ctx, next_handler)
    given = ctx.request.query.get("version-id")
    if given is not None and given != "":
        return await _with_version_id(ctx, versioning, given, next_handler)
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


# -- helpers ------------------------------------------------------------------


def _version_path(ctx: Context, versioning: Versioning, obj: str, version: str) -> SwiftPath:
    return SwiftPath(ctx.path.account, versioning.container, version_object(obj, version))


def _at(ctx: Context, path: SwiftPath, headers: Mapping[str, str] | None = None) -> Context:
    """``ctx`` acting on ``path`` (the client's request, body and query)."""
    request = ctx.request if headers is None else ctx.request.clone(headers=CIMultiDict(headers))
    return replace(ctx, path=path, request=request)


def _status(answer: Answer) -> int:
    return answer.response.status if isinstance(answer, ObjectStream) else answer.status


async def _raw_read(ctx: Context, path: SwiftPath, method: str) -> aiohttp.ClientResponse | None:
    """The newest replica's stored object (a link itself, never followed),
    still open; None when there is none; 503 when none answered."""
    answer = await read_entity(ctx.state, path, method, {}, newest=True)
    if answer.response is None:
        if 404 in answer.statuses:
            return None
        raise ServiceUnavailable("Could not read the object")
    if answer.response.status == 404:
        answer.response.release()
        return None
    if answer.response.status >= 300:
        answer.response.release()
        raise _failure(answer.response.status)
    return answer.response


def _failure(status: int) -> MartletError:
    """Swift's ``_check_response_error``: a 404 is a 412, another client
    error its own status, anything else a 503."""
    if status == 404:
        return PreconditionFailed()
    if 400 <= status < 500:
        error = MartletError()
        error.http_status = status
        return error
    return ServiceUnavailable("Could not version the object")


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def _copy_current(ctx: Context, versioning: Versioning, obj: SwiftPath) -> None:
    """A ``null`` version (no versions link) at ``obj`` becomes a version
    in the versions container, named by its own timestamp."""
    response = await _raw_read(ctx, obj, "GET")
    if response is None:
        return
    try:
        if response.headers.get(SYSMETA_SYMLINK, "").lower() == "true":
            return
        length = int(response.headers.get("Content-Length") or 0)
        if length > ctx.state.settings.max_file_size:
            raise EntityTooLarge()
        stamp = response.headers.get("X-Backend-Timestamp") or response.headers.get("X-Timestamp") \
            or new_timestamp()
        assert obj.obj is not None
        dest = _version_path(ctx, versioning, obj.obj, version_id(stamp))
        headers = copy_headers(response.headers)
        headers.update({"X-Timestamp": new_timestamp(), "Content-Length": str(length)})
        chunks = relay_chunks(response, ctx.state.settings.chunk_size, "Versioned copy")
        written = await put_object(ctx.state, dest, headers, chunks, length)
    finally:
        response.release()
    if written.status == 404:
        raise MartletError(_NO_VERSIONS)
    if not 200 <= written.status < 300:
        raise _failure(written.status)


async def _put_link(ctx: Context, obj: SwiftPath, version: SwiftPath, headers: Mapping[str, str],
                    etag: str | None) -> web.Response:
    """The primary's link to ``version`` (whose stored ``headers`` give the
    ETag and size a static link checks); the client's metadata and
    ``X-Delete-At`` go on the link too, as in Swift."""
    assert version.container is not None and version.obj is not None
    link_etag, size = validated_by(headers)
    slo_etag = None if headers.get(ETAG_SYSMETA) else headers.get("X-Object-Sysmeta-Slo-Etag")
    content_type = split_swift_bytes(headers.get("Content-Type", "application/octet-stream"))[0]
    sent = {k: v for k, v in object_headers(ctx.request.headers, _now()).items() if k.lower() not in _NOT_FOR_LINK}
    link = Link(obj.account, version.container, version.obj, link_etag, size, own_account=False, counted=False)
    sent.update(link_headers(link, content_type, slo_etag))
    timestamp = new_timestamp()
    sent.update({SYSMETA_SYMLINK: "true", "X-Timestamp": timestamp, "Content-Length": "0"})
    written = await put_object(ctx.state, obj, sent, _nothing(), 0)
    response = put_response(written, timestamp)
    if written.status == 201:
        response.headers["ETag"] = etag or link_etag
        response.headers["X-Object-Version-Id"] = parse_version_object(version.obj)[1] or NULL
    return response


async def _check_owner(ctx: Context, grant: Grant) -> None:
    """A version is read or deleted by the account's owners only (a temp
    URL's holder too): container ACLs reach the current version alone."""
    if not grant.owner and (ctx.identity is None or ctx.identity.scope is None):
        raise Forbidden()


def _now() -> float:
    return Timestamp.now().seconds


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
    await _copy_current(ctx, versioning, obj)
    version = _version_path(ctx, versioning, obj.obj, Timestamp.now().internal)
    if source is not None:
        answer: Answer = await server_copy.copy_object(ctx, source, version)
    else:
        kept = {k: v for k, v in ctx.request.headers.items() if k.lower() not in _EXPIRY}
        answer = await next_handler(_at(ctx, version, kept))
    status = _status(answer)
    if status == 404:
        raise MartletError(_NO_VERSIONS)
    if not 200 <= status < 300:
        return answer
    etag = answer.headers.get("ETag") if isinstance(answer, web.StreamResponse) else None
    stored = await _raw_read(ctx, version, "HEAD")
    if stored is None:
        raise ServiceUnavailable("The new version went missing")
    stored.release()
    response = await _put_link(ctx, obj, version, stored.headers, etag)
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
    if given and given != NULL:
        source_versioning = await _versioning(ctx, source)
        if not source_versioning.ever:
            raise BadRequest("version-aware operations require that the container is versioned")
        check_version(given)
        assert source.obj is not None
        await _check_owner(ctx, await check_read(ctx, source))
        source = SwiftPath(source.account, source_versioning.container, version_object(source.obj, given))
        moved = True
    dest_versioning = await _versioning(ctx, dest)
    if dest_versioning.enabled:
        return await _write(ctx, dest_versioning, next_handler, source, dest)
    if moved:
        return await server_copy.copy_object(ctx, source, dest)
    return await next_handler(ctx)


async def _versioning(ctx: Context, obj: SwiftPath) -> Versioning:
    try:
        return versioning_of((await container_info(ctx.state, obj.container_path())).sysmeta)
    except MartletError:
        return Versioning("", False)  # the copy itself will meet the same trouble


async def _delete(ctx: Context, versioning: Versioning, next_handler: Handler) -> Answer:
    """DELETE while versioning is enabled: a delete marker, then the link goes."""
    obj = ctx.path
    assert obj.obj is not None
    await check_write(ctx, obj, need_container=True)
    await _copy_current(ctx, versioning, obj)
    stamp = Timestamp.now().internal
    marker = _version_path(ctx, versioning, obj.obj, stamp)
    headers = {"Content-Type": DELETE_MARKER, "Content-Length": "0", "X-Timestamp": stamp}
    written = await put_object(ctx.state, marker, headers, _nothing(), 0)
    if not 200 <= written.status < 300:
        raise _failure(written.status)
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
    """A POST to the link of the current version updates that version."""
    answer = await next_handler(ctx)
    if not isinstance(answer, web.StreamResponse) or answer.status != 307:
        return answer
    target = location_in(answer.headers.get("Location", ""), ctx.path.account, versioning.container)
    if target is None:
        return answer
    kept = {k: v for k, v in ctx.request.headers.items() if k.lower() not in _EXPIRY}
    return await next_handler(_at(ctx, SwiftPath(ctx.path.account, versioning.container, target), kept))


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


# -- ?version-id ----------------------------------------------------------------


async def _with_version_id(ctx: Context, versioning: Versioning, given: str, next_handler: Handler) -> Answer:
    method = ctx.method
    if method == "POST":
        raise BadRequest(f"{method} to a specific version is not allowed")
    if not versioning.ever and given != NULL:
        raise BadRequest("version-aware operations require that the container is versioned")
    check_version(given)
    if method in ("OPTIONS",):
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
    await _check_owner(ctx, await check_read(ctx, obj))

    async def mark(response: web.StreamResponse) -> None:
        response.headers["X-Object-Version-Id"] = given

    on_response(ctx, mark, last=True)
    answer = await next_handler(_at(ctx, _version_path(ctx, versioning, obj.obj, given)))
    if isinstance(answer, ObjectStream):
        stored_type = answer.response.headers.get("Content-Type", "")
        if stored_type == DELETE_MARKER:
            answer.close()
            raise NotFound(headers={"X-Object-Version-Id": given, "Content-Type": DELETE_MARKER})
    return answer


async def _read_null(ctx: Context, versioning: Versioning, next_handler: Handler) -> Answer:
    """``version-id=null``: the object in the primary, unless it is a link
    to a real version."""
    if versioning.ever:
        await check_read(ctx, ctx.path)
        stored = await _raw_read(ctx, ctx.path, "HEAD")
        if stored is not None:
            stored.release()
            if stored.headers.get(SYSMETA_SYMLINK, "").lower() == "true":
                raise NotFound()
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
    await _check_owner(ctx, await check_write(ctx, obj, need_container=True))
    current = await _raw_read(ctx, obj, "HEAD")
    link_target: str | None = None
    if current is not None:
        current.release()
        if current.headers.get(SYSMETA_SYMLINK, "").lower() == "true":
            link_target = target_in(current.headers.get("X-Object-Sysmeta-Symlink-Target", ""), versioning.container)
    version = _version_path(ctx, versioning, obj.obj, given)
    if link_target is not None and link_target == version.obj:
        written = await write_entity(ctx.state, "DELETE", obj, {"X-Timestamp": new_timestamp()}, update_parent=True)
        if not (200 <= written.status < 300 or written.status == 404):
            raise _failure(written.status)
        now_current = NULL
    else:
        now_current = (parse_version_object(link_target)[1] if link_target else None) or NULL
    answer = await next_handler(_at(ctx, version))
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
    version = _version_path(ctx, versioning, obj.obj, given)
    stored = await _raw_read(ctx, version, "HEAD")
    if stored is None:
        try:
            await container_info(ctx.state, version.container_path())
        except NotFound:
            raise MartletError(_NO_VERSIONS) from None
        raise NotFound("The specified version does not exist")
    stored.release()
    return await _put_link(ctx, obj, version, stored.headers, None)
