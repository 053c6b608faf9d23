"""``/v1/<account>``: stats and container listings (HEAD/GET), metadata (POST).

An account is created on first use by its owner (Swift's account_autocreate):
when the owner reads or posts to an account that no replica has, the proxy
creates it and tries again.

The account ACL (``X-Account-Access-Control``, ``proxy.acl``) is set by an
owner's POST, checked first, and stored as account sysmeta; owners see it
back on HEAD/GET, others see neither it nor the other privileged headers
(``proxy.authorization.OWNER_HEADERS``).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from martlet.errors import ServiceUnavailable
from martlet.swift_path import SwiftPath
from proxy.access import authorize, forget_account, forget_account_acl
from proxy.acl import ACCOUNT_ACL_HEADER, ACCOUNT_ACL_SYSMETA, check_account_acl, shown_account_acl
from proxy.authorization import Grant, owner_view
from proxy.constraints import (
    ACCOUNT_LISTING_LIMIT, MAX_HEADER_SIZE, check_metadata, check_method, listing_limit, listing_params,
)
from proxy.context import Context
from proxy.controllers.options import ALLOWED_METHODS
from proxy.headers import backend_response_headers, client_headers_for_backend
from proxy.replicas import (
    new_timestamp, quorum_response, raise_for_missing, read_entity, relay, wants_newest, write_entity,
)

LISTING_PARAMS = frozenset({"format", "prefix", "delimiter", "marker", "end_marker", "limit", "reverse", "path"})


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
    check_method(ctx.method, ALLOWED_METHODS["account"])
    grant = await authorize(ctx)
    account = ctx.path.account
    if ctx.method == "POST":
        return await _post(ctx, account, grant)
    return await _read(ctx, account, grant)


def shown_headers(backend: Mapping[str, str], grant: Grant) -> dict[str, str]:
    """An account's headers as the caller may see them: an owner also sees
    the account ACL, others lose the privileged ones."""
    shown = owner_view(backend_response_headers(backend), grant)
    acl = shown_account_acl(backend.get(ACCOUNT_ACL_SYSMETA)) if grant.owner else None
    if acl:
        shown[ACCOUNT_ACL_HEADER] = acl
    return shown


async def _read(ctx: Context, account: str, grant: Grant) -> web.StreamResponse:
    request = ctx.request
    query = listing_query(request, ACCOUNT_LISTING_LIMIT)
    headers = {"Accept": request.headers["Accept"]} if "Accept" in request.headers else {}
    answer = await read_entity(ctx.state, ctx.path, ctx.method, headers, query,
                               newest=wants_newest(request.headers))
    if answer.response is None and 404 in answer.statuses and grant.owner:
        await autocreate_account(ctx, account)
        answer = await read_entity(ctx.state, ctx.path, ctx.method, headers, query)
    raise_for_missing(answer)
    assert answer.response is not None
    shown = shown_headers(answer.response.headers, grant)
    return await relay(request, answer.response, ctx.state.settings.chunk_size, shown)


async def _post(ctx: Context, account: str, grant: Grant) -> web.StreamResponse:
    """Only owners (``authorize``) get here: account-ACL read-write users
    may read the account, not change it."""
    request_headers = ctx.request.headers
    check_metadata(request_headers, "account")
    headers = owner_view(client_headers_for_backend(request_headers), grant)
    if ACCOUNT_ACL_HEADER in request_headers and grant.owner:
        headers[ACCOUNT_ACL_SYSMETA] = check_account_acl(request_headers[ACCOUNT_ACL_HEADER], MAX_HEADER_SIZE)
    headers.update(ctx.backend_headers)
    headers["X-Timestamp"] = new_timestamp()
    forget_account_acl(ctx.state, account)
    forget_account(ctx.state, account)
    written = await write_entity(ctx.state, "POST", ctx.path, headers, update_parent=False)
    forget_account_acl(ctx.state, account)
    if written.status == 404 and grant.owner:
        await autocreate_account(ctx, account)
        headers["X-Timestamp"] = new_timestamp()
        written = await write_entity(ctx.state, "POST", ctx.path, headers, update_parent=False)
    forget_account(ctx.state, account)
    return quorum_response(written)
