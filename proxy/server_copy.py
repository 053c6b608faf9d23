"""Server-side copy, a pipeline feature: ``PUT`` with ``X-Copy-From`` (and
``X-Copy-From-Account``), and the ``COPY`` verb with ``Destination`` (and
``Destination-Account``).

As Swift's copy, it is a GET of the source (the newest replica's, with
the request's conditions, ``Range`` and ``?part-number``) streamed into a
PUT of the destination, never buffered; the source's user metadata and
content headers are kept unless ``X-Fresh-Metadata: true``, the request's
own override them. The caller needs read access to the source (checked
before it is read, so a missing source is a 404 even where the
destination is forbidden) and write access to the destination (checked
before anything is written).

A source that is a large-object manifest is copied as the large object's
content, or with ``?multipart-manifest=get`` as the manifest itself; that
part is the large-objects feature's (``proxy.large_objects.copy``), which
this feature calls — the one dependency between features, and a one-way one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import quote

import aiohttp
from aiohttp import web

from martlet.config import is_true
from martlet.errors import (
    BadRequest, EntityTooLarge, MartletError, PreconditionFailed, RangeNotSatisfiable,
)
from martlet.swift_path import SwiftPath
from proxy import large_objects, symlink
from proxy.access import check_read, check_write
from proxy.constraints import check_copy_path, check_names, decode_segment, guess_content_type
from proxy.context import Context
from proxy.headers import READ_HEADERS, backend_response_headers, object_headers, user_metadata
from proxy.pipeline import Answer, Handler
from proxy.replicas import new_timestamp, put_object, put_response, raise_for_missing, read_entity, relay_chunks
from proxy.fanout import ReadResponse

# Headers a copy takes from its source object (unless X-Fresh-Metadata).
_COPIED = ("Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires")


def wrap(next_handler: Handler) -> Handler:
    """The pipeline entry point: copies are answered here, the rest passed on."""

    async def handle(ctx: Context) -> Answer:
        if ctx.path.kind == "object":
            if ctx.method == "PUT" and "X-Copy-From" in ctx.request.headers:
                return await _copy_from_header(ctx)
            if ctx.method == "COPY":
                return await _copy_verb(ctx)
        return await next_handler(ctx)

    return handle


async def _copy_from_header(ctx: Context) -> web.StreamResponse:
    if ctx.request.headers.get("Content-Length", "0") not in ("0", ""):
        raise BadRequest("Copy requests require a zero byte body")
    container, obj = check_copy_path(ctx.request.headers["X-Copy-From"])
    account = _other_account(ctx, "X-Copy-From-Account")
    return await _copy(ctx, SwiftPath(account, container, obj), ctx.path)


async def _copy_verb(ctx: Context) -> web.StreamResponse:
    destination = ctx.request.headers.get("Destination")
    if not destination:
        raise PreconditionFailed("Destination header required")
    container, obj = check_copy_path(destination)
    account = _other_account(ctx, "Destination-Account")
    return await _copy(ctx, ctx.path, SwiftPath(account, container, obj))


def copy_paths(ctx: Context) -> tuple[SwiftPath, SwiftPath]:
    """The (source, destination) of a copy request (a ``PUT`` with
    ``X-Copy-From`` or a ``COPY``), as the copy itself reads them: 400 or
    412 for a malformed one. For a feature that moves either end (object
    versioning) before calling ``copy_object``."""
    if ctx.method == "COPY":
        destination = ctx.request.headers.get("Destination")
        if not destination:
            raise PreconditionFailed("Destination header required")
        container, obj = check_copy_path(destination)
        return ctx.path, SwiftPath(_other_account(ctx, "Destination-Account"), container, obj)
    if ctx.request.headers.get("Content-Length", "0") not in ("0", ""):
        raise BadRequest("Copy requests require a zero byte body")
    container, obj = check_copy_path(ctx.request.headers["X-Copy-From"])
    return SwiftPath(_other_account(ctx, "X-Copy-From-Account"), container, obj), ctx.path


async def copy_object(ctx: Context, source: SwiftPath, dest: SwiftPath) -> web.StreamResponse:
    """Copy ``source`` to ``dest`` as a copy request would (``copy_paths``)."""
    return await _copy(ctx, source, dest)


def _other_account(ctx: Context, header: str) -> str:
    value = ctx.request.headers.get(header)
    if not value:
        return ctx.path.account
    account = decode_segment(value)
    check_names(account, None, None)
    return account


def _judged(response: ReadResponse) -> web.Response:
    """The source's own 304, 412 or 416, answered to the copy (as Swift)."""
    headers = {k: v for k, v in backend_response_headers(response.headers).items() if k.lower() != "content-type"}
    if response.status == 304:
        return web.Response(status=304, headers=headers)
    reason = {412: PreconditionFailed, 416: RangeNotSatisfiable}.get(response.status, MartletError)
    raise reason(headers=headers)


async def _read_source(ctx: Context, source: SwiftPath, sent: Mapping[str, str]) -> ReadResponse:
    """The newest replica's answer to the source GET (as Swift's copy,
    ``X-Newest``), still open: 404 if there is none. A symlink source is
    its target's content, or with ``?symlink=get`` the link itself."""
    if ctx.request.query.get("symlink") == "get":
        answer = await read_entity(ctx.state, source, "GET", sent, newest=True)
    else:
        answer = await symlink.read_following(ctx, source, "GET", sent, newest=True)
    raise_for_missing(answer)
    assert answer.response is not None
    return answer.response


async def _copy(ctx: Context, source: SwiftPath, dest: SwiftPath) -> web.StreamResponse:
    """GET the source, then stream it into a PUT of ``dest``.

    As Swift's copy (a GET of the source, then a PUT), the source is read
    first, with the request's conditions and Range: a missing or
    unreadable source answers before the destination is judged, and a
    Range copies only those bytes. Nothing is written before the caller's
    write access to ``dest`` is checked.
    """
    assert source.obj is not None and dest.container is not None and dest.obj is not None
    large_objects.check_manifest_headers(ctx.request.headers, ctx.method, ctx.request.query)
    headers = object_headers(ctx.request.headers, time.time())
    headers.pop("ETag", None)
    await check_read(ctx, source)
    sent = {h: ctx.request.headers[h] for h in READ_HEADERS if h in ctx.request.headers}
    response = await _read_source(ctx, source, sent)
    try:
        probe = await large_objects.manifest_behind(ctx, source, response, sent)
        if probe is not None:
            response.release()
            response = probe  # a large object: its own conditions and Range apply below
        elif response.status >= 300:
            return _judged(response)
        await check_write(ctx, dest, need_container=True)
        extra = {
            "X-Copied-From": quote(f"{source.container}/{source.obj}"),
            "X-Copied-From-Last-Modified": response.headers.get("Last-Modified", ""),
        }
        if source.account != dest.account:
            extra["X-Copied-From-Account"] = quote(source.account)
        manifest_get = ctx.request.query.get("multipart-manifest") == "get"
        if manifest_get and large_objects.is_slo(response.headers):
            headers = _inherit(ctx, response.headers, headers, dest.obj)
            stored = await large_objects.copy_slo_manifest(ctx, source, dest, response, headers)
            if stored.status == 201:
                stored.headers.update(extra)
            return stored
        if large_objects.is_manifest(response.headers) and not manifest_get:
            body = await large_objects.open_large_object(ctx, source, response)
            if isinstance(body, web.Response):
                return body  # the large object's 304
        else:
            body = _plain_source(ctx, response)
            if large_objects.is_dlo(response.headers):
                headers.setdefault("X-Object-Manifest", response.headers["X-Object-Manifest"])
        headers = _inherit(ctx, body.headers, headers, dest.obj)
        headers.update(_copied_link(ctx, response.headers, source, dest))
        if body.etag:
            headers["ETag"] = body.etag
        timestamp = new_timestamp()
        headers["X-Timestamp"] = timestamp
        headers["Content-Length"] = str(body.length)
        written = await put_object(ctx.state, dest, headers, body.chunks, body.length)
        return put_response(written, timestamp, extra)
    finally:
        response.release()


def _plain_source(ctx: Context, response: ReadResponse) -> large_objects.CopySource:
    """A plain object (or a manifest copied as itself) as a copy source."""
    length = int(response.headers.get("Content-Length", "0"))
    if length > ctx.state.settings.max_file_size:
        raise EntityTooLarge("Copy source is larger than max_file_size")
    # A range's bytes are not what the ETag hashes: the copy's own md5 is
    # then the object server's to compute.
    etag = (response.headers.get("ETag", "").strip('"') or None) if response.status == 200 else None
    return large_objects.CopySource(response.headers, length,
                                    relay_chunks(response, ctx.state.settings.chunk_size, "Copy source"), etag)


def _copied_link(ctx: Context, source_headers: Mapping[str, str], source: SwiftPath,
                 dest: SwiftPath) -> dict[str, str]:
    """A symlink copied as itself (``?symlink=get``): the copy links to the
    same target, in the account the client names in
    ``X-Symlink-Target-Account``, else the source link's own named account,
    else the copy's account."""
    link = symlink.link_of(source_headers, source.account)
    if link is None:
        return {}
    account, own = (link.account, True) if link.own_account else (dest.account, False)
    named = ctx.request.headers.get("X-Symlink-Target-Account")
    if named:
        account, own = decode_segment(named), True
    copied = symlink.Link(account, link.container, link.obj, link.etag, link.size, own)
    return symlink.link_headers(copied)


def _inherit(ctx: Context, source: Mapping[str, str], headers: dict[str, str], dest_obj: str) -> dict[str, str]:
    """The copy's headers: the source's metadata and content headers (unless
    ``X-Fresh-Metadata``) under the client's own."""
    fresh = is_true(ctx.request.headers.get("X-Fresh-Metadata"))
    if not fresh:
        inherited = user_metadata(source, "object")
        inherited.update({h: source[h] for h in _COPIED if h in source})
        headers = {**inherited, **headers}
    headers.setdefault("Content-Type", guess_content_type(dest_obj, None))
    return headers
