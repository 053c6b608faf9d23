"""``/v1/<account>/<container>``: create, stats, listings, metadata, delete.

Container PUT and DELETE carry ``X-Account-Host/Device/Partition`` so that
each container replica updates one account replica. Container info (its
existence and ACLs, ``proxy.access``) is cached briefly for object
requests, and dropped here whenever this proxy changes the container.
"""

from __future__ import annotations

from aiohttp import web

from proxy.access import authorize, container_info, forget_container, owns
from proxy.acl import clean_acl, parse_acl
from proxy.constraints import CONTAINER_LISTING_LIMIT, check_metadata, check_method
from proxy.context import Context
from proxy.controllers.account import ensure_account, listing_query
from proxy.headers import client_headers_for_backend
from proxy.replicas import new_timestamp, quorum_response, raise_for_missing, read_entity, relay, write_entity


CONTAINER_METHODS = ("DELETE", "GET", "HEAD", "POST", "PUT")


async def handle_container(ctx: Context) -> web.StreamResponse:
    account, container = ctx.path.account, ctx.path.container
    assert container is not None
    method = ctx.method
    check_method(method, CONTAINER_METHODS)
    if method in ("GET", "HEAD"):
        if owns(ctx, account):
            authorize(ctx)
        else:
            info = await container_info(ctx.state, ctx.path)
            authorize(ctx, read_acl=parse_acl(info.read_acl))
        return await _read(ctx)
    authorize(ctx)
    headers = client_headers_for_backend(ctx.request.headers)
    if method in ("PUT", "POST"):
        check_metadata(ctx.request.headers, "container")
        for name, referrers in (("X-Container-Read", True), ("X-Container-Write", False)):
            if headers.get(name):
                headers[name] = clean_acl(headers[name], allow_referrers=referrers)
    headers["X-Timestamp"] = new_timestamp()
    if method == "PUT":
        await ensure_account(ctx, account)
    forget_container(ctx.state, ctx.path)
    written = await write_entity(ctx.state, method, ctx.path, headers, update_parent=method in ("PUT", "DELETE"))
    forget_container(ctx.state, ctx.path)
    return quorum_response(written)


async def _read(ctx: Context) -> web.StreamResponse:
    request = ctx.request
    query = listing_query(request, CONTAINER_LISTING_LIMIT)
    headers = {"Accept": request.headers["Accept"]} if "Accept" in request.headers else {}
    answer = await read_entity(ctx.state, ctx.path, ctx.method, headers, query)
    raise_for_missing(answer)
    assert answer.response is not None
    return await relay(request, answer.response, ctx.state.settings.chunk_size)
