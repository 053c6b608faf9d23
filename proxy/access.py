"""Who may do what: ownership, and container ACLs (read from the container
info of ``proxy.container_info``).

Every handler that acts for a client asks here, features included: a large
object's segments are read and deleted with the client's own rights, exactly
as if the client had asked for each one. The decision itself is pure
(``proxy.acl``); this module supplies its inputs — the caller's identity and
Referer, and the container's ACLs, cached briefly (``state.containers``).

Authorization is decided before existence, so a stranger learns nothing
about which containers exist (Swift's order).
"""

from __future__ import annotations

from martlet.errors import NotFound, Unauthorized
from martlet.swift_path import SwiftPath
from proxy.acl import ACL, authorize as decide, is_owner, parse_acl
from proxy.container_info import container_info
from proxy.context import Context


def owns(ctx: Context, account: str) -> bool:
    """May the caller do anything to ``account`` (its admin, or a reseller admin)?"""
    return is_owner(ctx.identity, account, ctx.state.settings.reseller_prefix)


def authorize(ctx: Context, path: SwiftPath | None = None, method: str | None = None,
              read_acl: ACL = ACL(), write_acl: ACL = ACL()) -> None:
    """Return when the caller may do ``method`` to ``path`` (by default the
    request's own), else raise 401/403 (405 for an account PUT/DELETE)."""
    decide(ctx.identity, method or ctx.method, path or ctx.path,
           reseller_prefix=ctx.state.settings.reseller_prefix, read_acl=read_acl, write_acl=write_acl,
           referer=ctx.request.headers.get("Referer"))


async def check_read(ctx: Context, obj: SwiftPath) -> None:
    """May the caller read the object ``obj``? 401/403/404 if not."""
    if owns(ctx, obj.account):
        return
    info = await container_info(ctx.state, obj.container_path())
    authorize(ctx, obj, "GET", read_acl=parse_acl(info.read_acl))


async def check_write(ctx: Context, obj: SwiftPath, need_container: bool) -> None:
    """May the caller write (PUT, POST, DELETE) the object ``obj``? With
    ``need_container`` its container must also exist (404 if not)."""
    if ctx.identity is None:
        raise Unauthorized()
    owner = owns(ctx, obj.account)
    if owner and not need_container:
        return
    try:
        info = await container_info(ctx.state, obj.container_path())
    except NotFound:
        if not owner:
            authorize(ctx, obj, "PUT")
        raise
    if not owner:
        authorize(ctx, obj, "PUT", write_acl=parse_acl(info.write_acl))
