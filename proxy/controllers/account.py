"""``/v1/<account>``: stats and container listings (HEAD/GET), metadata (POST).

An account is created on first use by its owner (Swift's account_autocreate):
when the owner reads or posts to an account that no replica has, the proxy
creates it and tries again.
"""

from __future__ import annotations

from aiohttp import web

from martlet.errors import MethodNotAllowed, NotFound, ServiceUnavailable
from proxy.constraints import ACCOUNT_LISTING_LIMIT, check_listing_limit, check_metadata
from proxy.controllers.base import (
    Context, new_timestamp, quorum_response, raise_for_missing, read_entity, relay, write_entity,
)
from proxy.fanout import Names
from proxy.headers import client_headers_for_backend
from proxy.quorum import best_status, quorum_size

LISTING_PARAMS = ("format", "prefix", "delimiter", "marker", "end_marker", "limit", "reverse", "path")


def listing_query(request: web.Request) -> dict[str, str]:
    return {k: v for k, v in request.query.items() if k in LISTING_PARAMS}


async def autocreate_account(ctx: Context, account: str) -> None:
    """Create ``account`` on its replicas; 503 when no quorum accepts it."""
    replies, replicas = await write_entity(
        ctx, "account", "PUT", Names(account), {"X-Timestamp": new_timestamp()}, None
    )
    status = best_status([r.status for r in replies], quorum_size(replicas))
    if not 200 <= status < 300:
        raise ServiceUnavailable("Could not create the account")
    ctx.state.accounts.put(account, True)


async def ensure_account(ctx: Context, account: str) -> None:
    """Make sure the account exists before a container is put in it."""
    if ctx.state.accounts.get(account):
        return
    answer = await read_entity(ctx, "account", Names(account), {}, method="HEAD")
    if answer.response is not None:
        answer.response.release()
        if 200 <= answer.response.status < 300:
            ctx.state.accounts.put(account, True)
            return
    if answer.response is None and 404 not in answer.statuses:
        raise ServiceUnavailable("No account replica answered")
    await autocreate_account(ctx, account)


async def handle_account(ctx: Context) -> web.StreamResponse:
    ctx.authorize()
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
    answer = await read_entity(ctx, "account", Names(account), headers, query)
    if answer.response is None and 404 in answer.statuses and ctx.owner:
        await autocreate_account(ctx, account)
        answer = await read_entity(ctx, "account", Names(account), headers, query)
    raise_for_missing(answer)
    assert answer.response is not None
    return await relay(request, answer.response, ctx.state.settings.chunk_size)


async def _post(ctx: Context, account: str) -> web.StreamResponse:
    check_metadata(ctx.request.headers, "account")
    headers = client_headers_for_backend(ctx.request.headers)
    headers["X-Timestamp"] = new_timestamp()
    replies, replicas = await write_entity(ctx, "account", "POST", Names(account), headers, None)
    if best_status([r.status for r in replies], quorum_size(replicas)) == 404:
        if not ctx.owner:
            raise NotFound()
        await autocreate_account(ctx, account)
        headers["X-Timestamp"] = new_timestamp()
        replies, replicas = await write_entity(ctx, "account", "POST", Names(account), headers, None)
    return quorum_response(replies, replicas)
