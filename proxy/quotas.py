"""Quotas, two pipeline features: container quotas (``[container_quotas]``)
and account quotas (``[account_quotas]``), with Swift's headers and statuses.

* A container's owner sets ``X-Container-Meta-Quota-Bytes`` and
  ``-Quota-Count`` (plain metadata; a value that is not a non-negative
  integer is a 400 and nothing is stored).
* A reseller admin sets an account's ``X-Account-Quota-Bytes`` and
  ``-Quota-Count`` (``X-Account-Meta-Quota-Bytes``, the old form, too),
  and per storage policy ``X-Account-Quota-Bytes-Policy-<name>`` and
  ``-Count-Policy-<name>``; they are kept as account system metadata, which
  no client can write, and shown to whoever may read the account. Anyone
  else sending them gets 403; an empty value or ``X-Remove-...`` removes one.
* An object PUT (a copy too) that would take a container or account past a
  quota is answered 413 ``Upload exceeds quota.`` and nothing is stored -
  but only after the caller's right to write there is checked, so a
  stranger learns nothing (401/403 first). Reseller admins are not bound by
  account quotas. A chunked upload, whose size is not known up front, is
  cut (413, nothing stored) the moment it passes the bytes left.

Usage comes from the container's and account's stats, which lag a write by
as long as its container update takes; quotas are therefore approximate
under concurrent uploads, as in Swift. A container or account without a
quota costs a cached HEAD (``proxy.access``); one with a quota is re-read
for each upload so the figures are fresh.
"""

from __future__ import annotations

import re
from urllib.parse import unquote
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from aiohttp import web

from martlet.errors import BadRequest, EntityTooLarge, Forbidden, MartletError, Unauthorized
from martlet.swift_path import SwiftPath
from proxy.access import account_info, check_read, check_write, forget_account
from proxy.container_info import container_info, forget_container
from proxy.constraints import check_copy_path, check_names, decode_segment
from proxy.context import Context
from proxy.pipeline import Answer, Handler, on_response
from proxy.replicas import read_entity
from proxy.state import AccountInfo, ContainerInfo

QUOTA_TYPES = ("Quota-Bytes", "Quota-Count")
EXCEEDED = "Upload exceeds quota."
# Where Swift's large objects keep their whole size (a copy of one stores that much).
_SLO_SIZE = "X-Object-Sysmeta-Slo-Size"
_POLICY_HEADER = re.compile(r"^x-(remove-)?account-(quota-bytes|quota-count)-policy-(.+)$", re.IGNORECASE)


# --- pure rules -------------------------------------------------------------

def parse_limit(value: str | None) -> int | None:
    """A stored quota as a number; None (no quota) when missing, empty or
    not a non-negative integer."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def check_container_quota_headers(headers: Mapping[str, str]) -> None:
    """400 for a container PUT/POST setting a quota that is not a
    non-negative integer (an empty value removes it)."""
    for header, what in (("X-Container-Meta-Quota-Bytes", "bytes"), ("X-Container-Meta-Quota-Count", "count")):
        value = headers.get(header)
        if value and parse_limit(value) is None:
            raise BadRequest(f"Invalid {what} quota.")


@dataclass(frozen=True)
class Usage:
    objects: int
    bytes: int


def exceeds(usage: Usage, max_bytes: int | None, max_count: int | None, adding: int | None) -> bool:
    """Would one more object of ``adding`` bytes (None: not known yet) pass
    a quota?"""
    if max_count is not None and usage.objects + 1 > max_count:
        return True
    return max_bytes is not None and adding is not None and usage.bytes + adding > max_bytes


def bytes_left(usage: Usage, *max_bytes: int | None) -> int | None:
    """Bytes one more upload may add under the tightest of the byte quotas
    (None: no byte quota)."""
    limits = [m for m in max_bytes if m is not None]
    return max(0, min(limits) - usage.bytes) if limits else None


def container_limits(info: ContainerInfo) -> tuple[int | None, int | None]:
    """(bytes, count) quotas of a container."""
    return parse_limit(info.meta.get("quota-bytes")), parse_limit(info.meta.get("quota-count"))


def account_quota_updates(headers: Mapping[str, str], policies: Mapping[str, int]) -> dict[str, str]:
    """The account system metadata a POST with ``headers`` sets (empty
    value: removed), as ``X-Account-Sysmeta-Quota-Bytes[-Policy-<index>]``;
    empty when it names no quota. 400 for a value that is no quota;
    ``policies`` maps policy names (any case) to indexes (an unknown
    policy's header is not a quota and is ignored, as in Swift)."""
    updates: dict[str, str] = {}
    by_name = {name.lower(): index for name, index in policies.items()}
    for quota in QUOTA_TYPES:
        value = headers.get(f"X-Account-{quota}")
        if quota == "Quota-Bytes" and not value:  # the old form, unless the new one is set
            value = headers.get("X-Account-Meta-Quota-Bytes", value)
        removed = headers.get(f"X-Remove-Account-{quota}") or (
            quota == "Quota-Bytes" and headers.get("X-Remove-Account-Meta-Quota-Bytes"))
        if removed:
            value = ""
        if value is not None:
            updates[f"X-Account-Sysmeta-{quota}"] = value
    for name, value in headers.items():
        match = _POLICY_HEADER.match(name)
        index = by_name.get(match.group(3).lower()) if match else None
        if match is None or index is None:
            continue
        key = f"X-Account-Sysmeta-{match.group(2).title()}-Policy-{index}"
        if match.group(1):
            if value:
                updates[key] = ""
        elif updates.get(key) != "":  # X-Remove wins over a value
            updates[key] = value
    for value in updates.values():
        if value and parse_limit(value) is None:
            raise BadRequest("Invalid quota.")
    return updates


def account_quota_headers(info: AccountInfo, policies: Mapping[str, int]) -> dict[str, str]:
    """What an account's answer shows of its quotas."""
    shown = {}
    for quota in QUOTA_TYPES:
        value = info.sysmeta.get(quota.lower())
        if value:
            shown[f"X-Account-{quota}"] = value
        for name, index in policies.items():
            value = info.sysmeta.get(f"{quota.lower()}-policy-{index}")
            if value:
                shown[f"X-Account-{quota}-Policy-{name}"] = value
    return shown


def account_limits(info: AccountInfo) -> tuple[int | None, int | None]:
    """(bytes, count) quotas of an account; the old user-metadata form of
    the bytes quota counts while the new one is not set."""
    max_bytes = parse_limit(info.sysmeta.get("quota-bytes", info.meta.get("quota-bytes")))
    return max_bytes, parse_limit(info.sysmeta.get("quota-count"))


def policy_indexes(ctx: Context) -> Mapping[str, int]:
    """The cluster's storage policy names to their indexes (as ``/info``
    lists them): the one place quotas learn policies."""
    return {policy.name: policy.index for policy in ctx.state.config.cluster.policies}


# --- what an upload adds ----------------------------------------------------

@dataclass(frozen=True)
class Upload:
    """An object write: where it lands, and the object a copy reads (None:
    the request's own body)."""

    dest: SwiftPath
    source: SwiftPath | None = None


def upload_of(ctx: Context) -> Upload | None:
    """The upload ``ctx`` makes (PUT, PUT with X-Copy-From, COPY), or None
    (a malformed copy too: the copy itself answers that)."""
    headers = ctx.request.headers
    try:
        if ctx.method == "PUT" and "X-Copy-From" in headers:
            return Upload(ctx.path, _copy_path(ctx, headers["X-Copy-From"], "X-Copy-From-Account"))
        if ctx.method == "COPY" and headers.get("Destination"):
            return Upload(_copy_path(ctx, headers["Destination"], "Destination-Account"), ctx.path)
    except MartletError:
        return None
    if ctx.method != "PUT":
        return None
    chunked = headers.get("Transfer-Encoding", "").lower() == "chunked"
    if "Content-Length" not in headers and not chunked and ctx.body is None:
        return None  # no body to count: the object controller answers 411
    return Upload(ctx.path)


def _copy_path(ctx: Context, value: str, account_header: str) -> SwiftPath:
    container, obj = check_copy_path(value)
    account = ctx.path.account
    if ctx.request.headers.get(account_header):
        account = decode_segment(ctx.request.headers[account_header])
        check_names(account, None, None)
    return SwiftPath(account, container, obj)


async def bytes_added(ctx: Context, upload: Upload) -> int | None:
    """How many bytes the upload stores: its Content-Length, or a copy
    source's size; None when not known up front (a chunked body, or a copy
    source the caller may not read or that is missing - the copy itself
    answers that)."""
    if upload.source is None:
        length = ctx.request.headers.get("Content-Length", "")
        return int(length) if length.isascii() and length.isdigit() else None
    try:
        await check_read(ctx, upload.source)
        answer = await read_entity(ctx.state, upload.source, "HEAD", {})
    except MartletError:
        return None
    if answer.response is None:
        return None
    answer.response.release()
    if answer.response.status != 200:
        return None
    size = answer.response.headers.get(_SLO_SIZE) or answer.response.headers.get("Content-Length") or ""
    return int(size) if size.isdigit() else 0


async def refuse(ctx: Context, dest: SwiftPath) -> None:
    """413, unless the caller may not write there at all (then that error:
    an over-quota answer must not tell a stranger the container exists)."""
    await check_write(ctx, dest, need_container=True)
    raise EntityTooLarge(EXCEEDED)


async def limited(chunks: AsyncIterator[bytes], allowed: int) -> AsyncIterator[bytes]:
    """``chunks`` until they pass ``allowed`` bytes: then 413, which makes
    the PUT cut every backend before its body is complete."""
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > allowed:
            raise EntityTooLarge(EXCEEDED)
        yield chunk


def _with_limit(ctx: Context, upload: Upload, adding: int | None, left: int | None) -> Context:
    """A chunked upload's body, bounded by the bytes a quota leaves."""
    if adding is not None or left is None or upload.source is not None:
        return ctx
    return ctx.with_body(limited(ctx.body_chunks(), left))


# --- the two features -------------------------------------------------------

def wrap_container(next_handler: Handler) -> Handler:
    """Container quotas: checked on container PUT/POST, enforced on uploads."""

    async def handle(ctx: Context) -> Answer:
        kind = ctx.path.kind
        if kind == "container" and ctx.method in ("PUT", "POST"):
            check_container_quota_headers(ctx.request.headers)
        elif kind == "object" and ctx.method in ("PUT", "COPY"):
            upload = upload_of(ctx)
            if upload is not None:
                ctx = await _enforce_container(ctx, upload)
        return await next_handler(ctx)

    return handle


async def _enforce_container(ctx: Context, upload: Upload) -> Context:
    container = upload.dest.container_path()
    try:
        if container_limits(await container_info(ctx.state, container)) == (None, None):
            return ctx
        forget_container(ctx.state, container)  # a quota: judge by fresh figures
        info = await container_info(ctx.state, container)
    except MartletError:
        return ctx  # the request itself will meet the same trouble
    usage = Usage(info.object_count, info.bytes_used + await _versions_bytes(ctx, container, info))
    max_bytes, max_count = container_limits(info)
    adding = await bytes_added(ctx, upload)
    if exceeds(usage, max_bytes, max_count, adding):
        await refuse(ctx, upload.dest)
    return _with_limit(ctx, upload, adding, bytes_left(usage, max_bytes))


async def _versions_bytes(ctx: Context, container: SwiftPath, info: ContainerInfo) -> int:
    """The bytes of a versioned container's versions (object versioning's
    hidden container, named in its system metadata), which its quota
    counts too, as Swift's does."""
    versions = unquote(info.sysmeta.get("versions-container", ""))
    if not versions:
        return 0
    path = SwiftPath(container.account, versions)
    forget_container(ctx.state, path)
    try:
        return (await container_info(ctx.state, path)).bytes_used
    except MartletError:
        return 0


def wrap_account(next_handler: Handler) -> Handler:
    """Account quotas: set by reseller admins on account POST, shown on
    account reads, enforced on uploads."""

    async def handle(ctx: Context) -> Answer:
        kind, method = ctx.path.kind, ctx.method
        if kind == "account" and method == "POST":
            ctx = _quota_post(ctx)
        elif kind == "account" and method in ("GET", "HEAD"):
            _show_quotas(ctx)
        elif kind == "object" and method in ("PUT", "COPY"):
            identity = ctx.identity
            if identity is None or not identity.is_reseller_admin:
                upload = upload_of(ctx)
                if upload is not None:
                    ctx = await _enforce_account(ctx, upload)
        return await next_handler(ctx)

    return handle


def _quota_post(ctx: Context) -> Context:
    updates = account_quota_updates(ctx.request.headers, policy_indexes(ctx))
    if not updates:
        return ctx
    identity = ctx.identity
    if identity is None:
        raise Unauthorized()
    if not identity.is_reseller_admin:
        raise Forbidden("Only a reseller admin may change account quotas")
    return ctx.with_backend_headers(updates)


def _show_quotas(ctx: Context) -> None:
    """An account read that succeeds shows the account's quotas."""

    async def show(response: web.StreamResponse) -> None:
        if response.status >= 300:  # never on a refusal: only readers see quotas
            return
        try:
            info = await account_info(ctx.state, ctx.path.account)
        except MartletError:
            return
        response.headers.update(account_quota_headers(info, policy_indexes(ctx)))

    on_response(ctx, show)


async def _enforce_account(ctx: Context, upload: Upload) -> Context:
    account = upload.dest.account
    try:
        info = await account_info(ctx.state, account)
        if account_limits(info) == (None, None) and not _policy_limits(ctx, info):
            return ctx
        forget_account(ctx.state, account)
        info = await account_info(ctx.state, account)
    except MartletError:
        return ctx
    usage = Usage(info.object_count, info.bytes_used)
    max_bytes, max_count = account_limits(info)
    # Per-policy quotas are enforced for policy 0 only, against the whole
    # account's usage (per-policy usage is not read here yet).
    policy_bytes, policy_count = _policy_limits(ctx, info).get(0, (None, None))
    adding = await bytes_added(ctx, upload)
    if exceeds(usage, max_bytes, max_count, adding) or exceeds(usage, policy_bytes, policy_count, adding):
        await refuse(ctx, upload.dest)
    return _with_limit(ctx, upload, adding, bytes_left(usage, max_bytes, policy_bytes))


def _policy_limits(ctx: Context, info: AccountInfo) -> dict[int, tuple[int | None, int | None]]:
    limits = {}
    for index in policy_indexes(ctx).values():
        pair = (parse_limit(info.sysmeta.get(f"quota-bytes-policy-{index}")),
                parse_limit(info.sysmeta.get(f"quota-count-policy-{index}")))
        if pair != (None, None):
            limits[index] = pair
    return limits
