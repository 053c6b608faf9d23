"""``/v1/<account>``: stats and container listings (HEAD/GET), metadata (POST).

An account is created on first use by its owner (Swift's account_autocreate):
when the owner reads or posts to an account that no replica has, the proxy
creates it and tries again.
"""

from __future__ import annotations

from aiohttp import web

from martlet.errors import MethodNotAllowed, NotFound, ServiceUnavailable
from martlet.swift_path import SwiftPath
from proxy.access import authorize, forget_account, owns
from proxy.constraints import ACCOUNT_LISTING_LIMIT, check_listing_limit, check_metadata
from proxy.context import Context
from proxy.headers import client_headers_for_backend
from proxy.replicas import new_timestamp, quorum_response, raise_for_missing, read_entity, relay, write_entity

LISTING_PARAMS = ("format", "prefix", "delimiter", "marker", "end_marker", "limit", "reverse", "path")


def listing_query(request: web.Request) -> dict[str, str]:
    return {k: v for k, v in request.query.items() if k in LISTING_PARAMS}


async def autocreate_account(ctx: Context, account: str) -> None:
    """Create ``account`` on its replicas; 503 when no quorum accepts it."""
    written = await write_entity(
        ctx.state, "PUT", SwiftPath(account), {"X-Timestamp": new_timestamp()}, update_parent=False
    )
    if not 200 <= written.status < 300:
        raise ServiceUnavailable("Could not create the account")
    ctx.state.accounts.put(account, True)


async def ensure_account(ctx: Context, account: str) -> None:
    """Make sure the account exists before a container is put in it."""
    if ctx.state.accounts.get(account):
        return
    answer = await read_entity(ctx.state, SwiftPath(account), "HEAD", {})
    if answer.response is not None:
        answer.response.release()
        if 200 <= answer.response.status < 300:
            ctx.state.accounts.put(account, True)
            return
    if answer.response is None and 404 not in answer.statuses:
        raise ServiceUnavailable("No account replica answered")
    await autocreate_account(ctx, account)


async def handle_account(ctx: Context) -> web.StreamResponse:
    authorize(ctx)
    method = ctx.method
    account = ctx.path.account
    if method in ("GET", "HEAD"):
        return await _read(ctx, account)
    if method == "POST":
        return await _post(ctx, account)
    raise MethodNotAllowed()


async def _read(ctx: Context, account: str) -> web.StreamResponse:
    request = ctx.request
    query = listing_query(request) if ctx.method == "GET" else {}
    check_listing_limit(query, ACCOUNT_LISTING_LIMIT)
    headers = {"Accept": request.headers["Accept"]} if "Accept" in request.headers else {}
    answer = await read_entity(ctx.state, ctx.path, ctx.method, headers, query)
    if answer.response is None and 404 in answer.statuses and owns(ctx, account):
        await autocreate_account(ctx, account)
        answer = await read_entity(ctx.state, ctx.path, ctx.method, headers, query)
    raise_for_missing(answer)
    assert answer.response is not None
    return await relay(request, answer.response, ctx.state.settings.chunk_size)


async def _post(ctx: Context, account: str) -> web.StreamResponse:
    check_metadata(ctx.request.headers, "account")
    headers = client_headers_for_backend(ctx.request.headers)
    headers.update(ctx.backend_headers)
    headers["X-Timestamp"] = new_timestamp()
    forget_account(ctx.state, account)
    written = await write_entity(ctx.state, "POST", ctx.path, headers, update_parent=False)
    if written.status == 404:
        if not owns(ctx, account):
            raise NotFound()
        await autocreate_account(ctx, account)
        headers["X-Timestamp"] = new_timestamp()
        written = await write_entity(ctx.state, "POST", ctx.path, headers, update_parent=False)
    forget_account(ctx.state, account)
    return quorum_response(written)
