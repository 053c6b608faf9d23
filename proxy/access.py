"""Who may do what, for a request: the inputs of ``proxy.authorization``'s
decision — the caller's identity and Referer, the container's ACLs and the
account's ACL, each cached briefly — and the order in which existence is
revealed.

Every handler that acts for a client asks here, features included: a large
object's segments are read and deleted with the client's own rights, exactly
as if the client had asked for each one.

Authorization is decided before existence, so a stranger learns nothing
about which containers exist (Swift's order): a missing container has no
ACLs, the decision is made with none, and only a caller it allows hears 404
(or 503 when no replica answered). The account ACL is read only when it can
matter — the caller has a token, owns nothing here, and the container's ACL
did not already grant the request — as tempauth does.

A path in a reserved container (``martlet.reserved``: a versions
container) is no client's to name: only a feature builds one, after
checking the client's rights on the container the client named. Its
reads and writes are the feature's own (Swift's pre-authorized requests).
"""

from __future__ import annotations

from martlet.errors import (
    Forbidden,
    MartletError,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from martlet.reserved import is_reserved
from martlet.swift_path import SwiftPath
from proxy.acl import (
    ACCOUNT_ACL_SYSMETA,
    ACL,
    AccountACL,
    account_acl_from_stored,
    parse_acl,
)
from proxy.authorization import OWNER, READ_METHODS, Grant, decide, needs_account_acl
from proxy.authorization import owns as owns_by_token
from proxy.container_info import container_info, count_header
from proxy.context import Context
from proxy.headers import entity_metadata
from proxy.replicas import raise_for_missing, read_entity
from proxy.state import AccountInfo, ContainerInfo, ProxyState


def owns(ctx: Context, account: str) -> bool:
    """Does the caller's token alone make it an owner of ``account`` (its
    admin, or a reseller admin)? Account-ACL admins are owners too, but only
    ``authorize`` (``Grant.owner``) knows about them."""
    return owns_by_token(ctx.identity, account, ctx.state.config.resellers)


async def account_acl(state: ProxyState, account: str) -> AccountACL:
    """The account's ACL (empty when the account is missing or no replica
    answered: then it grants nothing)."""
    cached = state.account_acls.get(account)
    if cached is not None:
        return cached
    answer = await read_entity(state, SwiftPath(account), "HEAD", {})
    if answer.response is None:
        return AccountACL()
    answer.response.release()
    if not 200 <= answer.response.status < 300:
        return AccountACL()
    acl = account_acl_from_stored(answer.response.headers.get(ACCOUNT_ACL_SYSMETA))
    state.account_acls.put(account, acl)
    return acl


def forget_account_acl(state: ProxyState, account: str) -> None:
    """Drop the cached ACL of an account this proxy is changing."""
    state.account_acls.pop(account)


async def authorize(ctx: Context, path: SwiftPath | None = None, method: str | None = None,
                    read_acl: ACL = ACL(), write_acl: ACL = ACL()) -> Grant:
    """The caller's grant for ``method`` on ``path`` (by default the
    request's own), or 401/403 (405 for an account PUT/DELETE)."""
    path = path or ctx.path
    method = method or ctx.method
    resellers = ctx.state.config.resellers
    referer = ctx.request.headers.get("Referer")
    try:
        return decide(ctx.identity, method, path, resellers, read_acl=read_acl, write_acl=write_acl,
                      referer=referer)
    except Forbidden:
        if not needs_account_acl(ctx.identity, path, resellers):
            raise
        acl = await account_acl(ctx.state, path.account)
        if acl.is_empty:
            raise
        return decide(ctx.identity, method, path, resellers, read_acl=read_acl, write_acl=write_acl,
                      account_acl=acl, referer=referer)


async def _lookup(state: ProxyState, container: SwiftPath) -> tuple[ContainerInfo, MartletError | None]:
    """The container's info, or no ACLs and the error that says why."""
    try:
        return await container_info(state, container), None
    except (NotFound, ServiceUnavailable) as exc:
        return ContainerInfo("", ""), exc


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
    info = AccountInfo(count_header(headers, "X-Account-Object-Count"), count_header(headers, "X-Account-Bytes-Used"),
                       count_header(headers, "X-Account-Container-Count"), meta, sysmeta)
    state.account_infos.put(account, info)
    return info


def forget_account(state: ProxyState, account: str) -> None:
    """Drop the cached info of an account this proxy is changing."""
    state.account_infos.pop(account)




async def authorize_container(ctx: Context) -> Grant:
    """A container request: a read is decided with the container's read
    ACL (then 404 if it is missing), a write with the caller's rights over
    the account."""
    if is_reserved(ctx.path.container):
        return OWNER
    if ctx.method not in READ_METHODS or owns(ctx, ctx.path.account):
        return await authorize(ctx)
    info, missing = await _lookup(ctx.state, ctx.path)
    grant = await authorize(ctx, read_acl=parse_acl(info.read_acl))
    if missing is not None:
        raise missing
    return grant


async def _required(state: ProxyState, container: SwiftPath) -> None:
    missing = (await _lookup(state, container))[1]
    if missing is not None:
        raise missing


async def check_read(ctx: Context, obj: SwiftPath) -> Grant:
    """May the caller read the object ``obj``? 401/403, then 404/503 for a
    missing container, if not."""
    if owns(ctx, obj.account) or is_reserved(obj.container):
        return OWNER
    info, missing = await _lookup(ctx.state, obj.container_path())
    grant = await authorize(ctx, obj, "GET", read_acl=parse_acl(info.read_acl))
    if missing is not None:
        raise missing
    return grant


async def check_write(ctx: Context, obj: SwiftPath, need_container: bool) -> Grant:
    """May the caller write (PUT, POST, DELETE) the object ``obj``? With
    ``need_container`` its container must also exist (404 if not)."""
    if is_reserved(obj.container):
        if need_container:
            await _required(ctx.state, obj.container_path())
        return OWNER
    if ctx.identity is None:
        raise Unauthorized()
    owner = owns(ctx, obj.account)
    if owner and not need_container:
        return OWNER
    info, missing = await _lookup(ctx.state, obj.container_path())
    grant = OWNER if owner else await authorize(ctx, obj, "PUT", write_acl=parse_acl(info.write_acl))
    if missing is not None:
        raise missing
    return grant
