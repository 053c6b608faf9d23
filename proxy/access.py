"""Who may do what: ownership, container ACLs, and the container info they
are read from (with the account info features need beside it).

Every handler that acts for a client asks here, features included: a large
object's segments are read and deleted with the client's own rights, exactly
as if the client had asked for each one. The decision itself is pure
(``proxy.acl``); this module supplies its inputs — the caller's identity and
Referer, and the container's ACLs, cached briefly (``state.containers``).

Authorization is decided before existence, so a stranger learns nothing
about which containers exist (Swift's order).
"""

from __future__ import annotations

from collections.abc import Mapping

from martlet.errors import NotFound, ServiceUnavailable, Unauthorized
from martlet.swift_path import SwiftPath
from proxy.acl import ACL, authorize as decide, is_owner, parse_acl
from proxy.context import Context
from proxy.headers import entity_metadata
from proxy.replicas import raise_for_missing, read_entity
from proxy.state import AccountInfo, ContainerInfo, ProxyState


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


def _cache_key(container: SwiftPath) -> str:
    return f"{container.account}/{container.container}"


async def container_info(state: ProxyState, container: SwiftPath) -> ContainerInfo:
    """Existence and ACLs of a container: 404 when a primary says it is
    missing, 503 when no primary answered at all (a handoff's 404 proves
    nothing about a container that may live on the unreachable primaries)."""
    key = _cache_key(container)
    cached = state.containers.get(key)
    if cached is not None:
        return cached
    answer = await read_entity(state, container, "HEAD", {})
    if answer.response is None:
        if answer.primary_404:
            raise NotFound("Container not found")
        raise ServiceUnavailable("No container replica answered")
    answer.response.release()
    if not 200 <= answer.response.status < 300:
        raise NotFound("Container not found")
    headers = answer.response.headers
    meta, sysmeta = entity_metadata(headers, "container")
    info = ContainerInfo(headers.get("X-Container-Read", ""), headers.get("X-Container-Write", ""),
                         _count(headers, "X-Container-Object-Count"), _count(headers, "X-Container-Bytes-Used"),
                         meta, sysmeta)
    state.containers.put(key, info)
    return info


def _count(headers: Mapping[str, str], name: str) -> int:
    value = headers.get(name, "")
    return int(value) if value.isdigit() else 0


async def account_info(state: ProxyState, account: str) -> AccountInfo:
    """Stats and metadata of an account (cached like a container's): 404
    when no replica has it, 503 when none answered."""
    cached = state.account_infos.get(account)
    if cached is not None:
        return cached
    answer = await read_entity(state, SwiftPath(account), "HEAD", {})
    raise_for_missing(answer)
    assert answer.response is not None
    answer.response.release()
    if not 200 <= answer.response.status < 300:
        raise NotFound("Account not found")
    headers = answer.response.headers
    meta, sysmeta = entity_metadata(headers, "account")
    info = AccountInfo(_count(headers, "X-Account-Object-Count"), _count(headers, "X-Account-Bytes-Used"),
                       _count(headers, "X-Account-Container-Count"), meta, sysmeta)
    state.account_infos.put(account, info)
    return info


def forget_account(state: ProxyState, account: str) -> None:
    """Drop the cached info of an account this proxy is changing."""
    state.account_infos.pop(account)


def forget_container(state: ProxyState, container: SwiftPath) -> None:
    """Drop the cached info of a container this proxy is changing."""
    state.containers.pop(_cache_key(container))


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
