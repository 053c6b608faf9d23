"""``/v1/<account>/<container>``: create, stats, listings, metadata, delete.

Container PUT and DELETE carry ``X-Account-Host/Device/Partition`` so that
each container replica updates one account replica. Container info (its
existence and ACLs) is cached briefly for object requests, and dropped here
whenever this proxy changes the container.
"""

from __future__ import annotations

from aiohttp import web

from martlet.errors import MethodNotAllowed, NotFound, ServiceUnavailable
from proxy.acl import clean_acl, parse_acl
from proxy.constraints import CONTAINER_LISTING_LIMIT, check_listing_limit, check_metadata
from proxy.controllers.account import ensure_account, listing_query
from proxy.controllers.base import (
    Context, new_timestamp, quorum_response, raise_for_missing, read_entity, relay, write_entity,
)
from proxy.fanout import Names
from proxy.headers import client_headers_for_backend
from proxy.state import ContainerInfo


def cache_key(account: str, container: str) -> str:
    return f"{account}/{container}"


async def container_info(ctx: Context, account: str, container: str) -> ContainerInfo:
    """Existence and ACLs of a container: 404 when a primary says it is
    missing, 503 when no primary answered at all (a handoff's 404 proves
    nothing about a container that may live on the unreachable primaries)."""
    key = cache_key(account, container)
    cached = ctx.state.containers.get(key)
    if cached is not None:
        return cached
    answer = await read_entity(ctx, "container", Names(account, container), {}, method="HEAD")
    if answer.response is None:
        if answer.primary_404:
            raise NotFound("Container not found")
        raise ServiceUnavailable("No container replica answered")
    answer.response.release()
    if not 200 <= answer.response.status < 300:
        raise NotFound("Container not found")
    headers = answer.response.headers
    info = ContainerInfo(headers.get("X-Container-Read", ""), headers.get("X-Container-Write", ""))
    ctx.state.containers.put(key, info)
    return info


async def handle_container(ctx: Context) -> web.StreamResponse:
    account, container = ctx.path.account, ctx.path.container
    assert container is not None
    method = ctx.method
    if method in ("GET", "HEAD"):
        if ctx.owner:
            ctx.authorize()
        else:
            info = await container_info(ctx, account, container)
            ctx.authorize(read_acl=parse_acl(info.read_acl))
        return await _read(ctx, account, container)
    ctx.authorize()
    if method not in ("PUT", "POST", "DELETE"):
        raise MethodNotAllowed()
    headers = client_headers_for_backend(ctx.request.headers)
    if method in ("PUT", "POST"):
        check_metadata(ctx.request.headers, "container")
        for name, referrers in (("X-Container-Read", True), ("X-Container-Write", False)):
            if headers.get(name):
                headers[name] = clean_acl(headers[name], allow_referrers=referrers)
    headers["X-Timestamp"] = new_timestamp()
    if method == "PUT":
        await ensure_account(ctx, account)
    ctx.state.containers.pop(cache_key(account, container))
    update = "account" if method in ("PUT", "DELETE") else None
    replies, replicas = await write_entity(
        ctx, "container", method, Names(account, container), headers, update, "Account"
    )
    ctx.state.containers.pop(cache_key(account, container))
    return quorum_response(replies, replicas)


async def _read(ctx: Context, account: str, container: str) -> web.StreamResponse:
    request = ctx.request
    query = listing_query(request) if ctx.method == "GET" else {}
    check_listing_limit(query, CONTAINER_LISTING_LIMIT)
    headers = {"Accept": request.headers["Accept"]} if "Accept" in request.headers else {}
    answer = await read_entity(ctx, "container", Names(account, container), headers, query)
    raise_for_missing(answer)
    assert answer.response is not None
    return await relay(request, answer.response, ctx.state.settings.chunk_size)
