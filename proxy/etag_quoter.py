"""Quoted ETags, a pipeline feature (``[etag_quoter]``): RFC 7232 wants an
ETag in double quotes, Swift sends a bare md5, and clients expect that; so
quoting is asked for per account or container.

``X-Account-Rfc-Compliant-Etags: true`` (or ``X-Container-...`` on one
container; ``false`` turns it off there, an empty value or ``X-Remove-...``
forgets the setting) is kept as system metadata, written by the account or
container controller as the owner's POST or PUT allows, and shown back on
reads. An object answer's ``ETag`` is quoted when its container says so, or
its account when the container does not say, or ``enable_by_default``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from aiohttp import web

from martlet.config import is_true
from martlet.errors import MartletError
from proxy.access import account_info
from proxy.container_info import container_info
from proxy.context import Context
from proxy.pipeline import Answer, Handler, on_response

SETTING = "rfc-compliant-etags"  # the sysmeta key (after X-<Kind>-Sysmeta-)


def quote_etag(value: str) -> str:
    """``value`` in double quotes unless already quoted (weak ones too)."""
    if value.startswith(('"', 'W/"')) and value.endswith('"') and len(value) > 1:
        return value
    return f'"{value}"'


def setting_update(headers: Mapping[str, str], kind: str) -> dict[str, str]:
    """The sysmeta an account or container write stores for its
    ``X-<Kind>-Rfc-Compliant-Etags`` (``True``/``False``, or empty to forget
    it); empty when the request does not name the setting."""
    title = kind.title()
    client, sysmeta = f"X-{title}-Rfc-Compliant-Etags", f"X-{title}-Sysmeta-Rfc-Compliant-Etags"
    update: dict[str, str] = {}
    value = headers.get(client)
    if value is not None:
        update[sysmeta] = str(is_true(value)) if value else ""
    if headers.get(f"X-Remove-{title}-Rfc-Compliant-Etags"):
        update[sysmeta] = ""
    return update


def wrap(next_handler: Handler) -> Handler:
    """The pipeline entry point. What an answer needs is looked up when it
    is prepared, and only if it needs it (an ETag to quote, a setting to
    show), so the feature adds nothing to answers without one."""

    async def handle(ctx: Context) -> Answer:
        kind = ctx.path.kind
        if kind == "object":
            on_response(ctx, functools.partial(_quote_answer, ctx))
        elif ctx.method in ("PUT", "POST"):
            ctx = ctx.with_backend_headers(setting_update(ctx.request.headers, kind))
        elif ctx.method in ("GET", "HEAD"):
            on_response(ctx, functools.partial(_show_setting, ctx))
        return await next_handler(ctx)

    return handle


async def _quote_answer(ctx: Context, response: web.StreamResponse) -> None:
    etag = response.headers.get("ETag")
    if etag and await _wanted(ctx):
        response.headers["ETag"] = quote_etag(etag)


async def _wanted(ctx: Context) -> bool:
    """Does the object's container (else account, else the default) want quotes?"""
    try:
        flag = (await container_info(ctx.state, ctx.path.container_path())).sysmeta.get(SETTING)
        if flag is None:
            flag = (await account_info(ctx.state, ctx.path.account)).sysmeta.get(SETTING)
    except MartletError:
        return False  # the request answers for a missing container itself
    if flag is None:
        return ctx.state.config.features.etag_quoter.enable_by_default
    return is_true(flag)


async def _show_setting(ctx: Context, response: web.StreamResponse) -> None:
    """An account or container read that succeeds shows its setting, when
    it has one."""
    if response.status >= 300:
        return
    kind = ctx.path.kind
    try:
        if kind == "container":
            flag = (await container_info(ctx.state, ctx.path)).sysmeta.get(SETTING)
        else:
            flag = (await account_info(ctx.state, ctx.path.account)).sysmeta.get(SETTING)
    except MartletError:
        return
    if flag:
        response.headers[f"X-{kind.title()}-Rfc-Compliant-Etags"] = flag
