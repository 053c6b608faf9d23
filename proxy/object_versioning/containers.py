"""Container requests: turning versioning on and off, listing versions,
deleting a versioned container, and what a versioned container shows.

* ``X-Versions-Enabled: true`` on a PUT or POST creates the versions
  container (in the primary's storage policy) and records it, and the
  flag, as system metadata; ``false`` turns versioning off and keeps the
  versions. A value that is no boolean is a 400, and so is the header
  beside ``X-Versions-Location`` / ``X-History-Location`` or on a
  container that has one (legacy versioning): nothing is stored.
* A HEAD or GET shows ``X-Versions-Enabled`` and counts the versions'
  bytes in ``X-Container-Bytes-Used``.
* A versioned container can be deleted once it has no versions; its
  versions container goes first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from aiohttp import web

from martlet.accept import TEXT_FORMATS, best_match
from martlet.config import is_true, parse_bool
from martlet.errors import BadRequest, Conflict, MartletError, NotAcceptable, NotFound
from martlet.policies import POLICY_DEFAULT_HEADER, POLICY_INDEX_HEADER, POLICY_NAME_HEADER
from martlet.swift_path import SwiftPath
from proxy.access import authorize_container
from proxy.authorization import owner_view
from proxy.constraints import CONTAINER_LISTING_LIMIT, listing_limit, listing_params
from proxy.container_info import container_info, count_header, forget_container
from proxy.context import Context
from proxy.headers import backend_response_headers
from proxy.object_versioning.listing import merge, show_links, versions_query
from proxy.object_versioning.names import (
    CLIENT_ENABLED, NEVER, SYSMETA_CONTAINER, SYSMETA_ENABLED, Versioning, versioning_of, versions_container,
)
from proxy.pipeline import Answer, Handler, on_response
from proxy.replicas import new_timestamp, raise_for_missing, read_entity, write_entity
from proxy.state import ContainerInfo

_LEGACY = ("X-Versions-Location", "X-History-Location")
_LISTING_PARAMS = frozenset({"format", "prefix", "delimiter", "marker", "end_marker", "limit", "reverse", "path",
                             "versions", "version_marker"})


async def _info(ctx: Context) -> ContainerInfo | None:
    try:
        return await container_info(ctx.state, ctx.path)
    except NotFound:
        return None


def _legacy(info: ContainerInfo | None) -> bool:
    return info is not None and bool(info.sysmeta.get("versions-location"))


async def handle_container(ctx: Context, next_handler: Handler) -> Answer:
    headers = ctx.request.headers
    method = ctx.method
    if method in ("PUT", "POST") and CLIENT_ENABLED in headers:
        return await _enable(ctx, next_handler)
    if method in ("PUT", "POST") and any(headers.get(h) for h in _LEGACY):
        info = await _info(ctx)
        if info is not None and versioning_of(info.sysmeta).ever:
            raise BadRequest("Cannot set legacy versioning on a container that uses object versioning.")
        return await next_handler(ctx)
    if method == "DELETE":
        return await _delete(ctx, next_handler)
    if method not in ("GET", "HEAD"):
        return await next_handler(ctx)
    info = await _info(ctx)
    versioning = versioning_of(info.sysmeta) if info is not None else NEVER
    if info is not None and "versions-enabled" in info.sysmeta:
        _show(ctx, info, versioning)
    if method == "GET" and ("versions" in ctx.request.query or versioning.ever) and info is not None:
        return await _listing(ctx, versioning, next_handler)
    return await next_handler(ctx)


def _show(ctx: Context, info: ContainerInfo, versioning: Versioning) -> None:
    """``X-Versions-Enabled``, and the versions' bytes in the bytes used."""
    shown = info.sysmeta.get("versions-enabled", "")

    async def show(response: web.StreamResponse) -> None:
        if response.status >= 300:
            return
        response.headers[CLIENT_ENABLED] = shown
        if versioning.ever and "X-Container-Bytes-Used" in response.headers:
            answer = await read_entity(ctx.state, SwiftPath(ctx.path.account, versioning.container), "HEAD", {})
            if answer.response is not None:
                answer.response.release()
                if answer.response.status < 300:
                    used = count_header(response.headers, "X-Container-Bytes-Used")
                    more = count_header(answer.response.headers, "X-Container-Bytes-Used")
                    response.headers["X-Container-Bytes-Used"] = str(used + more)

    on_response(ctx, show)


async def _enable(ctx: Context, next_handler: Handler) -> Answer:
    headers = ctx.request.headers
    try:
        value = parse_bool(headers[CLIENT_ENABLED])
    except ValueError:
        raise BadRequest(f"Invalid {CLIENT_ENABLED} value; it must be true or false") from None
    if any(headers.get(h) for h in _LEGACY):
        raise BadRequest(f"{CLIENT_ENABLED} cannot be set with X-Versions-Location or X-History-Location")
    await authorize_container(ctx)
    info = await _info(ctx)
    if _legacy(info):
        raise BadRequest("Cannot enable object versioning on a container that is already using the legacy "
                         "versioned writes feature.")
    updates = {SYSMETA_ENABLED: str(value)}
    created: SwiftPath | None = None
    if value and (info is not None or ctx.method == "PUT"):
        assert ctx.path.container is not None
        versions = SwiftPath(ctx.path.account, versions_container(ctx.path.container))
        if info is not None:
            policy = {POLICY_INDEX_HEADER: str(info.storage_policy)}
        else:
            policy = _new_policy(ctx)
        written = await write_entity(ctx.state, "PUT", versions, {**policy, "X-Timestamp": new_timestamp()},
                                     update_parent=True)
        if not (200 <= written.status < 300 or written.status == 409):
            raise MartletError("Error enabling object versioning")
        forget_container(ctx.state, versions)
        created = versions
        updates[SYSMETA_CONTAINER] = quote(versions.container or "")
    answer = await next_handler(ctx.with_backend_headers(updates))
    status = answer.status if isinstance(answer, web.StreamResponse) else 500
    if created is not None and not 200 <= status < 300 and info is None:
        await write_entity(ctx.state, "DELETE", created, {"X-Timestamp": new_timestamp()}, update_parent=True)
    return answer


def _new_policy(ctx: Context) -> dict[str, str]:
    policies = ctx.state.config.cluster.policies
    name = ctx.request.headers.get(POLICY_NAME_HEADER, "").strip()
    policy = policies.by_name(name) if name else None
    if policy is None:
        return {POLICY_DEFAULT_HEADER: str(policies.default.index)}
    return {POLICY_INDEX_HEADER: str(policy.index)}


async def _delete(ctx: Context, next_handler: Handler) -> Answer:
    """The versions container goes first, once it holds no version."""
    info = await _info(ctx)
    versioning = versioning_of(info.sysmeta) if info is not None else NEVER
    if not versioning.ever:
        return await next_handler(ctx)
    await authorize_container(ctx)
    versions = SwiftPath(ctx.path.account, versioning.container)
    answer = await read_entity(ctx.state, versions, "HEAD", {}, newest=True)
    if answer.response is not None:
        answer.response.release()
        status = answer.response.status
        if status < 300 and count_header(answer.response.headers, "X-Container-Object-Count") > 0:
            raise Conflict("Delete all versions before deleting container.")
        if status >= 300 and status != 404:
            raise MartletError("Error deleting versioned container")
    elif 404 not in answer.statuses:
        raise MartletError("Error deleting versioned container")
    written = await write_entity(ctx.state, "DELETE", versions, {"X-Timestamp": new_timestamp()}, update_parent=True)
    if not (200 <= written.status < 300 or written.status == 404):
        raise MartletError("Error deleting versioned container")
    forget_container(ctx.state, versions)
    return await next_handler(ctx)


async def _read_json(ctx: Context, path: SwiftPath, query: Mapping[str, str]) -> tuple[Any, Mapping[str, str]]:
    answer = await read_entity(ctx.state, path, "GET", {}, {**query, "format": "json"})
    raise_for_missing(answer)
    response = answer.response
    assert response is not None
    try:
        if response.status >= 300:
            error = MartletError("Listing failed")
            error.http_status = response.status
            raise error
        body = await response.read()
    finally:
        response.release()
    try:
        rows = json.loads(body) if body else []
    except ValueError:
        raise MartletError("Unreadable listing") from None
    return rows, response.headers


async def _listing(ctx: Context, versioning: Versioning, next_handler: Handler) -> Answer:
    """A listing of a versioned container (links shown as their
    versions), or with ``?versions`` of its versions too (JSON only)."""
    request = ctx.request
    wants_versions = "versions" in request.query
    fmt, accept = request.query.get("format", "").strip().lower(), request.headers.get("Accept")
    if not wants_versions and not (fmt == "json" or (not fmt and best_match(accept, TEXT_FORMATS)
                                                     == "application/json")):
        return await next_handler(ctx)  # plain and XML: the container's own rows, as for any container
    grant = await authorize_container(ctx)
    params = listing_params(request.rel_url.raw_query_string, _LISTING_PARAMS)
    limit = listing_limit(params, CONTAINER_LISTING_LIMIT)
    # As Swift's: version listings are JSON only, whatever else was asked for.
    if wants_versions and ((fmt and fmt != "json") or (not fmt and best_match(accept, ("application/json",)) is None)):
        raise NotAcceptable()
    rows, headers = await listing_rows(ctx, ctx.path, versioning, params, limit, wants_versions)
    body = json.dumps(rows).encode("ascii")
    shown = owner_view(backend_response_headers(headers), grant)
    shown.pop("Content-Length", None)
    shown["Content-Type"] = "application/json; charset=utf-8"
    return web.Response(status=200, body=body, headers=shown)


async def listing_rows(ctx: Context, path: SwiftPath, versioning: Versioning, params: Mapping[str, str],
                       limit: int | None, wants_versions: bool) -> tuple[list[dict[str, Any]], Mapping[str, str]]:
    """The JSON rows of a listing of the container ``path`` (already
    authorized): links shown as their versions, and with
    ``wants_versions`` the versions merged in (``listing.merge``); and the
    container's own answer headers. S3's ListObjects and
    ListObjectVersions (``proxy.s3api``) read them here too."""
    query = {k: v for k, v in params.items() if k not in ("versions", "version_marker", "format", "limit")}
    if limit is not None:
        query["limit"] = str(limit)
    rows, headers = await _read_json(ctx, path, query)
    assert path.container is not None
    location = versioning.container or versions_container(path.container)
    rows = show_links(rows, path.container, location, wants_versions)
    if wants_versions:
        vquery = versions_query(params)
        versions_path = SwiftPath(path.account, location)
        try:
            await container_info(ctx.state, versions_path)
            version_rows, _ = await _read_json(ctx, versions_path, vquery)
        except NotFound:
            version_rows = None
        rows = merge(rows, version_rows, path.account, location, is_true(params.get("reverse")),
                     limit if limit is not None else CONTAINER_LISTING_LIMIT)
    return rows, headers
