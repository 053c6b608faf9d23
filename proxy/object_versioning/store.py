"""The versions container's side of object versioning: raw reads of what
is stored (a link itself, never followed), the copy of a ``null`` version,
the link to the current version, and the checks and failures every flow
shares. The flows are ``objects`` and ``version_ids``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from martlet.body import no_body
from martlet.config import is_true
from martlet.content_type import split_swift_bytes
from martlet.errors import EntityTooLarge, Forbidden, MartletError, PreconditionFailed, ServiceUnavailable
from martlet.swift_path import SwiftPath
from martlet.timestamp import Timestamp
from proxy.authorization import Grant
from proxy.context import Context
from proxy.headers import object_headers
from proxy.object_stream import ObjectStream
from proxy.object_versioning.names import (
    NULL, SYSMETA_SYMLINK, Versioning, parse_version_object, target_in, version_id, version_object,
)
from proxy.pipeline import Answer
from proxy.replicas import new_timestamp, put_object, put_response, read_entity, relay_chunks
from proxy.large_objects.writer import ROW_PARAMS_SYSMETA
from proxy.symlink.links import ETAG_SYSMETA, OVERRIDE_ETAG_SYSMETA, TARGET_SYSMETA, Link, link_headers, validated_by
from proxy.versioned_writes.rules import copy_headers
from proxy.fanout import ReadResponse


NO_VERSIONS = "The versions container does not exist. You may want to re-enable object versioning."
# A version never expires: only the link to it does (as Swift).
EXPIRY = ("x-delete-at", "x-delete-after")
# What the link in the primary container never carries of the client's write.
_NOT_FOR_LINK = ("etag", "x-if-delete-at", "x-object-manifest", "x-static-large-object", "x-symlink-target",
                 "x-symlink-target-account", "x-symlink-target-etag", "content-length", "transfer-encoding")


def version_path(ctx: Context, versioning: Versioning, obj: str, version: str) -> SwiftPath:
    return SwiftPath(ctx.path.account, versioning.container, version_object(obj, version))


def at(ctx: Context, path: SwiftPath, headers: Mapping[str, str] | None = None) -> Context:
    """``ctx`` acting on ``path`` (the client's request, body and query)."""
    request = ctx.request if headers is None else ctx.request.clone(headers=CIMultiDict(headers))
    return replace(ctx, path=path, request=request)


def answer_status(answer: Answer) -> int:
    return answer.response.status if isinstance(answer, ObjectStream) else answer.status


async def raw_read(ctx: Context, path: SwiftPath, method: str) -> ReadResponse | None:
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
        raise failure(answer.response.status)
    return answer.response


async def versions_link(ctx: Context, obj: SwiftPath) -> Mapping[str, str] | None:
    """The stored headers of the versions link at ``obj``; None when
    ``obj`` is missing or no such link (a ``null`` version)."""
    stored = await raw_read(ctx, obj, "HEAD")
    if stored is None:
        return None
    stored.release()
    return stored.headers if is_true(stored.headers.get(SYSMETA_SYMLINK)) else None


async def link_target(ctx: Context, obj: SwiftPath, versioning: Versioning) -> str | None:
    """The name in ``versioning``'s container of the version the link at
    ``obj`` points to; None when there is no such link."""
    link = await versions_link(ctx, obj)
    return None if link is None else target_in(link.get(TARGET_SYSMETA, ""), versioning.container)


def failure(status: int) -> MartletError:
    """Swift's ``_check_response_error``: a 404 is a 412, another client
    error its own status, anything else a 503."""
    if status == 404:
        return PreconditionFailed()
    if 400 <= status < 500:
        error = MartletError()
        error.http_status = status
        return error
    return ServiceUnavailable("Could not version the object")


async def copy_current(ctx: Context, versioning: Versioning, obj: SwiftPath) -> None:
    """A ``null`` version (no versions link) at ``obj`` becomes a version
    in the versions container, named by its own timestamp."""
    response = await raw_read(ctx, obj, "GET")
    if response is None:
        return
    try:
        if is_true(response.headers.get(SYSMETA_SYMLINK)):
            return
        length = int(response.headers.get("Content-Length") or 0)
        if length > ctx.state.settings.max_file_size:
            raise EntityTooLarge()
        stamp = response.headers.get("X-Backend-Timestamp") or response.headers.get("X-Timestamp") \
            or new_timestamp()
        assert obj.obj is not None
        dest = version_path(ctx, versioning, obj.obj, version_id(stamp))
        headers = copy_headers(response.headers)
        headers.update({"X-Timestamp": new_timestamp(), "Content-Length": str(length)})
        chunks = relay_chunks(response, ctx.state.settings.chunk_size, "Versioned copy")
        written = await put_object(ctx.state, dest, headers, chunks, length)
    finally:
        response.release()
    if written.status == 404:
        raise MartletError(NO_VERSIONS)
    if not 200 <= written.status < 300:
        raise failure(written.status)


async def put_link(ctx: Context, obj: SwiftPath, version: SwiftPath, headers: Mapping[str, str],
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
    extra = headers.get(ROW_PARAMS_SYSMETA)
    if extra:  # the version's own listing parameters (S3's multipart ETag) are the link's row's too
        sent[OVERRIDE_ETAG_SYSMETA] += "; " + extra
    timestamp = new_timestamp()
    sent.update({SYSMETA_SYMLINK: "true", "X-Timestamp": timestamp, "Content-Length": "0"})
    written = await put_object(ctx.state, obj, sent, no_body(), 0)
    response = put_response(written, timestamp)
    if written.status == 201:
        response.headers["ETag"] = etag or link_etag
        response.headers["X-Object-Version-Id"] = parse_version_object(version.obj)[1] or NULL
    return response


async def check_owner(ctx: Context, grant: Grant) -> None:
    """A version is read or deleted by the account's owners only (a temp
    URL's holder too): container ACLs reach the current version alone."""
    if not grant.owner and (ctx.identity is None or ctx.identity.scope is None):
        raise Forbidden()


def _now() -> float:
    return Timestamp.now().seconds
