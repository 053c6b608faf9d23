"""``/v1/<account>/<container>/<object>``: PUT (and server-side copy), GET,
HEAD, POST, DELETE and the COPY verb.

Every check that can refuse a request (names, metadata, lengths, ACLs, the
container's existence) runs before any replica is written to.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from functools import partial
from urllib.parse import quote

import aiohttp
from aiohttp import web

from martlet.body import iter_body
from martlet.errors import (
    BadRequest, EntityTooLarge, MethodNotAllowed, NotFound, ServiceUnavailable,
    Unauthorized,
)
from proxy import large_objects
from proxy.acl import parse_acl
from proxy.config import ProxySection
from proxy.constraints import (
    check_copy_path, check_metadata, check_names, check_object_body, decode_segment, guess_content_type,
    resolve_delete_at,
)
from proxy.controllers.base import (
    Context, last_modified, new_timestamp, put_object_replicas, quorum_response, raise_for_missing, ring_names,
    write_entity,
)
from proxy.controllers.container import container_info
from proxy.controllers.object_read import stream_object
from proxy.fanout import NODE_ERRORS, Names, read_first
from proxy.headers import client_headers_for_backend, user_metadata
from proxy.quorum import Reply, best_status, quorum_etag, quorum_size

# Headers that a read passes on to the backend: ranges and conditions.
_READ_HEADERS = ("Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")
# Headers a copy takes from its source object (unless X-Fresh-Metadata).
_COPIED = ("Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires")


async def handle_object(ctx: Context) -> web.StreamResponse:
    method = ctx.method
    if method in ("GET", "HEAD"):
        return await _read(ctx)
    if method == "PUT":
        if "X-Copy-From" in ctx.request.headers:
            return await _copy_from_header(ctx)
        return await _put(ctx)
    if method == "COPY":
        return await _copy_verb(ctx)
    if method == "POST":
        return await _post(ctx)
    if method == "DELETE":
        return await _delete(ctx)
    raise MethodNotAllowed()


async def _check_write(ctx: Context, account: str, container: str, obj: str, need_container: bool) -> None:
    """Authorize a write and, when asked, require the container to exist.

    Authorization is decided before existence, so a stranger learns nothing
    about which containers exist (Swift's order).
    """
    if ctx.identity is None:
        raise Unauthorized()
    owner = ctx.owns(account)
    if owner and not need_container:
        return
    try:
        info = await container_info(ctx, account, container)
    except NotFound:
        if not owner:
            ctx.authorize(method="PUT", container=container, obj=obj, account=account)
        raise
    if not owner:
        ctx.authorize(write_acl=parse_acl(info.write_acl), method="PUT", container=container,
                      obj=obj, account=account)


async def _check_read(ctx: Context, account: str, container: str, obj: str) -> None:
    if ctx.owns(account):
        return
    info = await container_info(ctx, account, container)
    ctx.authorize(read_acl=parse_acl(info.read_acl), method="GET", container=container, obj=obj,
                  account=account)


async def _read(ctx: Context) -> web.StreamResponse:
    p = ctx.path
    assert p.container is not None and p.obj is not None
    await _check_read(ctx, p.account, p.container, p.obj)
    names = Names(p.account, p.container, p.obj)
    ring, part, _ = ring_names("object", names, ctx.state)
    headers = {h: ctx.request.headers[h] for h in _READ_HEADERS if h in ctx.request.headers}
    answer = await read_first(ctx.state, ring, part, ctx.method, names, headers)
    raise_for_missing(answer)
    served = await large_objects.serve_if_manifest(ctx, answer, names, headers, partial(_check_read, ctx))
    if served is not None:
        return served
    return await stream_object(ctx.request, ctx.state, answer, part, names, ring, headers, {})


def _client_chunks(request: web.Request, settings: ProxySection) -> AsyncIterator[bytes]:
    """The request body in chunks; a stalled client is a 408, a vanished one a 499."""
    return iter_body(request, settings.client_timeout, settings.chunk_size)


def _put_response(replies: list[Reply], replicas: int, timestamp: str,
                  extra: dict[str, str] | None = None) -> web.Response:
    quorum = quorum_size(replicas)
    status = best_status([r.status for r in replies], quorum)
    if status != 201:
        return quorum_response(replies, replicas)
    headers = {"Last-Modified": last_modified(timestamp), **(extra or {})}
    etag = quorum_etag(replies, quorum)
    if etag:
        headers["ETag"] = etag
    return web.Response(status=201, headers=headers)


def _object_headers(ctx: Context) -> dict[str, str]:
    """Backend headers of a PUT or POST from the client's, checked."""
    request_headers = ctx.request.headers
    check_metadata(request_headers, "object")
    large_objects.check_manifest_headers(request_headers, ctx.method, ctx.request.query)
    headers = client_headers_for_backend(request_headers)
    delete_at = resolve_delete_at(request_headers, time.time())
    if delete_at is not None:
        headers["X-Delete-At"] = delete_at
    return headers


async def _put(ctx: Context) -> web.StreamResponse:
    p = ctx.path
    assert p.container is not None and p.obj is not None
    request = ctx.request
    length = check_object_body(request.headers, ctx.state.settings.max_file_size)
    headers = _object_headers(ctx)
    detect = request.headers.get("X-Detect-Content-Type", "").lower() in ("true", "1", "yes")
    headers["Content-Type"] = guess_content_type(p.obj, request.headers.get("Content-Type"), detect)
    await _check_write(ctx, p.account, p.container, p.obj, need_container=True)
    if request.query.get("multipart-manifest") == "put":
        return await large_objects.put_slo_manifest(
            ctx, Names(p.account, p.container, p.obj), headers, partial(_check_read, ctx))
    timestamp = new_timestamp()
    headers["X-Timestamp"] = timestamp
    if length is not None:
        headers["Content-Length"] = str(length)
    names = Names(p.account, p.container, p.obj)
    replies, replicas = await put_object_replicas(ctx, names, headers, _client_chunks(request, ctx.state.settings), length)
    return _put_response(replies, replicas, timestamp)


async def _source_chunks(response: aiohttp.ClientResponse, chunk_size: int) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.content.iter_chunked(chunk_size):
            yield chunk
    except NODE_ERRORS:
        raise ServiceUnavailable("Copy source failed mid-read") from None


async def _copy(ctx: Context, source: Names, dest: Names) -> web.StreamResponse:
    """Server-side copy: stream the source into a PUT of ``dest``.

    A manifest source is copied as its large object's content, or with
    ``?multipart-manifest=get`` as the manifest itself (``large_objects.copy``).
    """
    assert source.container and source.obj and dest.container and dest.obj
    await _check_read(ctx, source.account, source.container, source.obj)
    await _check_write(ctx, dest.account, dest.container, dest.obj, need_container=True)
    headers = _object_headers(ctx)
    headers.pop("ETag", None)
    ring, part, _ = ring_names("object", source, ctx.state)
    answer = await read_first(ctx.state, ring, part, "GET", source, {})
    raise_for_missing(answer)
    response = answer.response
    assert response is not None
    check_read = partial(_check_read, ctx)
    try:
        if response.status != 200:
            raise NotFound("Copy source not found")
        extra = {
            "X-Copied-From": quote(f"{source.container}/{source.obj}"),
            "X-Copied-From-Last-Modified": response.headers.get("Last-Modified", ""),
        }
        if source.account != dest.account:
            extra["X-Copied-From-Account"] = quote(source.account)
        manifest_get = ctx.request.query.get("multipart-manifest") == "get"
        if manifest_get and large_objects.is_slo(response.headers):
            headers = _inherit(ctx, response.headers, headers, dest.obj)
            stored = await large_objects.copy_slo_manifest(ctx, source, dest, response, headers, check_read)
            if stored.status == 201:
                stored.headers.update(extra)
            return stored
        if large_objects.is_manifest(response.headers) and not manifest_get:
            body = await large_objects.open_large_object(ctx, source, response, check_read)
        else:
            body = _plain_source(ctx, response)
            if large_objects.is_dlo(response.headers):
                headers.setdefault("X-Object-Manifest", response.headers["X-Object-Manifest"])
        headers = _inherit(ctx, body.headers, headers, dest.obj)
        if body.etag:
            headers["ETag"] = body.etag
        timestamp = new_timestamp()
        headers["X-Timestamp"] = timestamp
        headers["Content-Length"] = str(body.length)
        replies, replicas = await put_object_replicas(ctx, dest, headers, body.chunks, body.length)
        return _put_response(replies, replicas, timestamp, extra)
    finally:
        response.release()


def _plain_source(ctx: Context, response: aiohttp.ClientResponse) -> large_objects.CopySource:
    """A plain object (or a manifest copied as itself) as a copy source."""
    length = int(response.headers.get("Content-Length", "0"))
    if length > ctx.state.settings.max_file_size:
        raise EntityTooLarge("Copy source is larger than max_file_size")
    etag = response.headers.get("ETag", "").strip('"') or None
    return large_objects.CopySource(response.headers, length,
                                    _source_chunks(response, ctx.state.settings.chunk_size), etag)


def _inherit(ctx: Context, source: Mapping[str, str], headers: dict[str, str], dest_obj: str) -> dict[str, str]:
    """The copy's headers: the source's metadata and content headers (unless
    ``X-Fresh-Metadata``) under the client's own."""
    fresh = ctx.request.headers.get("X-Fresh-Metadata", "").lower() in ("true", "1", "yes")
    if not fresh:
        inherited = user_metadata(source, "object")
        inherited.update({h: source[h] for h in _COPIED if h in source})
        headers = {**inherited, **headers}
    headers.setdefault("Content-Type", guess_content_type(dest_obj, None))
    return headers


async def _copy_from_header(ctx: Context) -> web.StreamResponse:
    p = ctx.path
    assert p.container is not None and p.obj is not None
    if ctx.request.headers.get("Content-Length", "0") not in ("0", ""):
        raise BadRequest("Copy requests require a zero byte body")
    container, obj = check_copy_path(ctx.request.headers["X-Copy-From"])
    account = _other_account(ctx, "X-Copy-From-Account")
    return await _copy(ctx, Names(account, container, obj), Names(p.account, p.container, p.obj))


async def _copy_verb(ctx: Context) -> web.StreamResponse:
    p = ctx.path
    assert p.container is not None and p.obj is not None
    destination = ctx.request.headers.get("Destination")
    if not destination:
        raise BadRequest("COPY needs a Destination header")
    container, obj = check_copy_path(destination)
    account = _other_account(ctx, "Destination-Account")
    return await _copy(ctx, Names(p.account, p.container, p.obj), Names(account, container, obj))


def _other_account(ctx: Context, header: str) -> str:
    value = ctx.request.headers.get(header)
    if not value:
        return ctx.path.account
    account = decode_segment(value)
    check_names(account, None, None)
    return account


async def _post(ctx: Context) -> web.StreamResponse:
    p = ctx.path
    assert p.container is not None and p.obj is not None
    headers = _object_headers(ctx)
    await _check_write(ctx, p.account, p.container, p.obj, need_container=True)
    headers["X-Timestamp"] = new_timestamp()
    replies, replicas = await write_entity(
        ctx, "object", "POST", Names(p.account, p.container, p.obj), headers, "container", "Container"
    )
    return quorum_response(replies, replicas)


async def _delete(ctx: Context) -> web.StreamResponse:
    p = ctx.path
    assert p.container is not None and p.obj is not None
    await _check_write(ctx, p.account, p.container, p.obj, need_container=False)
    if ctx.request.query.get("multipart-manifest") == "delete":
        return await large_objects.delete_slo(
            ctx, Names(p.account, p.container, p.obj),
            lambda a, c, o: _check_write(ctx, a, c, o, need_container=False))
    headers = {"X-Timestamp": new_timestamp()}
    replies, replicas = await write_entity(
        ctx, "object", "DELETE", Names(p.account, p.container, p.obj), headers, "container", "Container"
    )
    return quorum_response(replies, replicas)
