"""An account's JSON listing, as Swift's object versioning shows it: a
versioned container's row counts its versions' bytes, and a versions
container whose container is gone (an orphan, still holding data) is
listed under that container's name with a count of 0, so that its owner
sees it. Plain and XML listings are the account's own rows.

It costs every JSON account listing one more listing, of the reserved
names only (``\\x00versions\\x00...``), as in Swift.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from martlet.accept import TEXT_FORMATS, best_match
from martlet.config import is_true
from martlet.reserved import ALLOW_RESERVED_HEADER, get_reserved_name
from proxy.access import authorize
from proxy.acl import ACCOUNT_ACL_HEADER, ACCOUNT_ACL_SYSMETA, shown_account_acl
from proxy.authorization import owner_view
from proxy.constraints import ACCOUNT_LISTING_LIMIT, listing_limit, listing_params
from proxy.context import Context
from proxy.fanout import NODE_ERRORS
from proxy.headers import backend_response_headers
from proxy.object_versioning.names import primary_of, versions_container
from proxy.pipeline import Answer, Handler
from proxy.replicas import read_entity, wants_newest

_PARAMS = frozenset({"format", "prefix", "delimiter", "marker", "end_marker", "limit", "reverse"})
Item = dict[str, Any]


def versions_query(params: Mapping[str, str]) -> dict[str, str]:
    """The reserved listing's parameters: names moved to the versions
    containers' (Swift's)."""
    out = {k: v for k, v in params.items() if k in ("limit", "reverse", "delimiter")}
    out["prefix"] = versions_container(params["prefix"]) if "prefix" in params else get_reserved_name("versions")
    for key in ("marker", "end_marker"):
        if key in params:
            out[key] = versions_container(params[key])
    return out


def merge_accounts(rows: list[Item], versions_rows: list[Item], reverse: bool, limit: int) -> list[Item]:
    """The primary rows with their versions' bytes, and orphans added."""
    by_name: dict[str, Item] = {}
    for item in versions_rows:
        primary = primary_of(str(item.get("name", "")))
        if primary is not None:
            by_name[primary] = item
    for item in rows:
        extra = by_name.pop(str(item.get("name", "")), None) if "name" in item else None
        if extra is not None:
            item["bytes"] = int(item.get("bytes", 0)) + int(extra.get("bytes", 0))
    rows = [*rows, *({**item, "name": name, "count": 0} for name, item in by_name.items())]
    rows.sort(key=lambda row: str(row["subdir"] if "subdir" in row else row["name"]), reverse=reverse)
    return rows[:limit]


async def handle_account(ctx: Context, next_handler: Handler) -> Answer:
    request = ctx.request
    if ctx.method != "GET":
        return await next_handler(ctx)
    params = listing_params(request.rel_url.raw_query_string, _PARAMS)
    fmt = params.pop("format", "").strip().lower()
    if not (fmt == "json" or (not fmt and best_match(request.headers.get("Accept"), TEXT_FORMATS)
                                  == "application/json")):
        return await next_handler(ctx)
    grant = await authorize(ctx)
    limit = listing_limit(params, ACCOUNT_LISTING_LIMIT)
    params.pop("limit", None)
    if limit is not None:
        params["limit"] = str(limit)
    answer = await read_entity(ctx.state, ctx.path, "GET", {}, {**params, "format": "json"},
                               newest=wants_newest(request.headers))
    response = answer.response
    if response is None or response.status >= 300:
        if response is not None:
            response.release()
        return await next_handler(ctx)  # the account's own answer (autocreated, missing, failed)
    try:
        rows = json.loads(await response.read() or b"[]")
    except (ValueError, *NODE_ERRORS):
        return await next_handler(ctx)
    finally:
        response.release()
    hidden = await read_entity(ctx.state, ctx.path, "GET", {ALLOW_RESERVED_HEADER: "true"},
                               {**versions_query(params), "format": "json"})
    versions_rows: list[Item] = []
    if hidden.response is not None:
        try:
            if hidden.response.status == 200:
                versions_rows = json.loads(await hidden.response.read())
        except (ValueError, *NODE_ERRORS):
            versions_rows = []
        finally:
            hidden.response.release()
    rows = merge_accounts(rows, versions_rows, is_true(params.get("reverse")),
                          limit if limit is not None else ACCOUNT_LISTING_LIMIT)
    shown = owner_view(backend_response_headers(response.headers), grant)
    acl = shown_account_acl(response.headers.get(ACCOUNT_ACL_SYSMETA)) if grant.owner else None
    if acl:
        shown[ACCOUNT_ACL_HEADER] = acl
    shown.pop("Content-Length", None)
    shown["Content-Type"] = "application/json; charset=utf-8"
    return web.Response(status=200, body=json.dumps(rows).encode("ascii"), headers=shown)
