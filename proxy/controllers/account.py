"""``/v1/<account>``: stats and container listings (HEAD/GET), metadata (POST).

An account is created on first use by its owner (Swift's account_autocreate):
when the owner reads or posts to an account that no replica has, the proxy
creates it and tries again.
"""

from __future__ import annotations

from aiohttp import web

from martlet.errors import NotFound, ServiceUnavailable
from martlet.swift_path import SwiftPath
from proxy.access import authorize, owns
from proxy.constraints import ACCOUNT_LISTING_LIMIT, check_metadata, check_method, listing_limit, listing_params
from proxy.context import Context
from proxy.headers import client_headers_for_backend
from proxy.replicas import new_timestamp, quorum_response, raise_for_missing, read_entity, relay, write_entity

LISTING_PARAMS = frozenset({"format", "prefix", "delimiter", "marker", "end_marker", "limit", "reverse", "path"})
# Account PUT and DELETE are refused (Swift's allow_account_management off).
ACCOUNT_METHODS = ("GET", "HEAD", "POST")


def listing_query(request: web.Request, maximum: int) -> dict[str, str]:
    """The listing parameters of a GET, passed on to the backend: 400 for
    one that is not UTF-8, 412 for a limit above ``maximum``; a limit that
    is not a number is dropped (the default applies), as Swift does. A
    HEAD passes only ``format``, which its Content-Type follows."""
    query = listing_params(request.rel_url.raw_query_string, LISTING_PARAMS)
    if request.method != "GET":
        return {"format": query["format"]} if "format" in query else {}
    limit = listing_limit(query, maximum)
    query.pop("limit", None)
    if limit is not None:
        query["limit"] = str(limit)
    return query


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
    check_method(ctx.method, ACCOUNT_METHODS)
    authorize(ctx)
    account = ctx.path.account
    if ctx.method == "POST":
        return await _post(ctx, account)
    return await _read(ctx, account)


async def _read(ctx: Context, account: str) -> web.StreamResponse:
    request = ctx.request
    query = listing_query(request, ACCOUNT_LISTING_LIMIT)
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
    headers["X-Timestamp"] = new_timestamp()
    written = await write_entity(ctx.state, "POST", ctx.path, headers, update_parent=False)
    if written.status == 404:
        if not owns(ctx, account):
            raise NotFound()
        await autocreate_account(ctx, account)
        headers["X-Timestamp"] = new_timestamp()
        written = await write_entity(ctx.state, "POST", ctx.path, headers, update_parent=False)
    return quorum_response(written)
