"""Temporary URLs, a pipeline feature (``[tempurl]``), with Swift's rules.

Whoever holds an account's ``X-Account-Meta-Temp-URL-Key[-2]``, or a
container's ``X-Container-Meta-Temp-URL-Key[-2]``, can hand out a URL that
lets anyone, without a token, do one method on one object (or on every
object under ``temp_url_prefix``) until it expires, optionally only from
``temp_url_ip_range`` (``signature.py`` has the signature's form). A GET
or POST or PUT signature also lets a HEAD through.

* A request with neither ``temp_url_sig`` nor ``temp_url_expires`` goes on
  untouched (and ``OPTIONS`` always does): the feature costs a substring
  test of its raw query.
* A bad, expired or unmatched signature, a digest not in
  ``allowed_digests``, a method not in ``methods``, a path that is no
  object, a client outside the IP range: 401, nothing done.
* A valid one makes the request's caller a temp URL identity
  (``Identity.scope``): allowed what lies inside the key's scope (the
  account for an account key, the container for a container key) — which
  is what a large object's segments are read with — and never an owner,
  so privileged headers stay hidden. Its query keeps only the temp URL
  parameters. A write with ``X-Object-Manifest``, ``X-Symlink-Target`` or
  ``X-Copy-From`` is a 400 (it could reach data the URL was not signed
  for); ``incoming_remove_headers`` are dropped from the request and
  ``outgoing_remove_headers`` from the answer (each unless allowed).
* A successful GET/HEAD answer gets ``Content-Disposition`` (``inline``,
  ``filename``, the object's own, or an attachment named after the
  object) and ``Expires`` (the URL's expiry).

Keys come from the cached account and container info (``proxy.access``,
``proxy.container_info``).
"""

from __future__ import annotations

import functools
import time
from dataclasses import replace
from email.utils import formatdate
from ipaddress import ip_address, ip_network

from aiohttp import web
from multidict import CIMultiDict

from martlet.errors import MartletError
from martlet.swift_path import SwiftPath
from proxy.access import account_info
from proxy.auth import Identity
from proxy.config import TempurlSection
from proxy.container_info import container_info
from proxy.context import Context
from proxy.pipeline import Answer, Handler, on_response
from proxy.staticweb import WebConfig
from proxy.tempurl.signature import (
    ACCOUNT_SCOPE,
    CONTAINER_SCOPE,
    DISALLOWED_HEADERS,
    HeaderRule,
    TempUrlQuery,
    allowed_digests,
    answer_disposition,
    keys_of,
    matching_scope,
    parse_expires,
    signed_path,
    split_signature,
)

TEMPURL_USER = ".wsgi.tempurl"
INVALID_BODY = "401 Unauthorized: Temp URL invalid\n"


def wrap(next_handler: Handler) -> Handler:
    """The pipeline entry point."""

    async def handle(ctx: Context) -> Answer:
        # The raw query is looked at before it is parsed: most requests
        # have none, or none of ours.
        if "temp_url_" not in ctx.request.rel_url.raw_query_string or ctx.method == "OPTIONS":
            return await next_handler(ctx)
        tq = TempUrlQuery.of(ctx.request.query)
        if not tq.present:
            return await next_handler(ctx)
        return await _temp_url(ctx, next_handler, tq)

    return handle


def _invalid(ctx: Context) -> web.Response:
    return web.Response(status=401, text=None if ctx.method == "HEAD" else INVALID_BODY)


async def _temp_url(ctx: Context, next_handler: Handler, tq: TempUrlQuery) -> Answer:
    section = ctx.state.config.features.tempurl
    now = time.time()
    expires = parse_expires(tq.expires, now) if tq.expires is not None else 0
    if not tq.sig or not expires:
        return _invalid(ctx)
    try:
        digest, sig_hex = split_signature(tq.sig)
    except ValueError:
        return _invalid(ctx)
    path = ctx.path
    # An empty prefix signs a whole container: then a GET or HEAD of the
    # container itself may use it too (a static web site's listing).
    container_root = ctx.method in ("GET", "HEAD") and tq.prefix == ""
    if digest not in allowed_digests(section.allowed_digests) or not _signable(ctx.method, path, section,
                                                                                container_root):
        return _invalid(ctx)
    assert path.container is not None
    obj = path.obj or ""
    if tq.ip_range and not _client_in(ctx.request.remote, tq.ip_range):
        return _invalid(ctx)
    if tq.prefix is not None and not obj.startswith(tq.prefix):
        return _invalid(ctx)
    candidates = await scoped_keys(ctx, path)
    if not candidates:
        return _invalid(ctx)
    if path.obj is None and not await _is_web_site(ctx, path):
        return _invalid(ctx)  # a container itself only as a static web site
    signed = signed_path(path.account, path.container, obj, tq.prefix)
    scope = matching_scope(sig_hex, ctx.method, expires, signed, digest, candidates, tq.ip_range)
    if scope is None:
        return _invalid(ctx)
    if ctx.method not in ("GET", "HEAD"):
        for name in DISALLOWED_HEADERS:
            if name in ctx.request.headers:
                title = "-".join(part.capitalize() for part in name.split("-"))
                return web.Response(status=400, text=f"The header {title!r} is not allowed in this tempurl")
    _answer_rules(ctx, tq, expires, section)
    identity = Identity("", TEMPURL_USER, frozenset(), expires,
                        scope=SwiftPath(path.account) if scope == ACCOUNT_SCOPE else path.container_path())
    return await next_handler(replace(ctx, request=_cleaned_request(ctx, tq, section), identity=identity))


@functools.cache
def _methods(configured: tuple[str, ...]) -> frozenset[str]:
    """The configured methods as a set, worked out once per config."""
    return frozenset(word.upper() for item in configured for word in item.split())


def _signable(method: str, path: SwiftPath, section: TempurlSection, container_root: bool = False) -> bool:
    """Is this a request a temp URL may be for: a configured method, on
    an object (a name of more than slashes), or on the container itself
    when ``container_root`` allows it?"""
    if method not in _methods(section.methods) or path.container is None:
        return False
    if container_root:
        return True
    return path.obj is not None and bool(path.obj.strip("/"))


def _client_in(remote: str | None, ip_range: str) -> bool:
    if remote is None:
        return False
    try:
        return ip_address(remote) in ip_network(ip_range)
    except ValueError:
        return False


async def scoped_keys(ctx: Context, path: SwiftPath) -> list[tuple[str, str]]:
    """The account's keys, then the container's, each with its scope (a
    missing account or container has none)."""
    scoped: list[tuple[str, str]] = []
    try:
        scoped += [(key, ACCOUNT_SCOPE) for key in keys_of((await account_info(ctx.state, path.account)).meta)]
    except MartletError:
        pass
    try:
        info = await container_info(ctx.state, path.container_path())
        scoped += [(key, CONTAINER_SCOPE) for key in keys_of(info.meta)]
    except MartletError:
        pass
    return scoped


async def _is_web_site(ctx: Context, path: SwiftPath) -> bool:
    """Does the container serve an index or listings? A container-wide
    temp URL reaches the container itself only for the static web feature
    to answer, never the container's own listing."""
    try:
        meta = (await container_info(ctx.state, path.container_path())).meta  # cached: scoped_keys read it
    except MartletError:
        return False
    return WebConfig.of(meta).is_site


def _cleaned_request(ctx: Context, tq: TempUrlQuery, section: TempurlSection) -> web.Request:
    """The request without the headers ``incoming_remove_headers`` drops,
    its query the temp URL parameters only. (Its answer hooks are shared:
    ``_answer_rules`` registered one before the clone, so the clone's copied
    state holds the client request's very list.)"""
    rule = HeaderRule.of(section.incoming_remove_headers, section.incoming_allow_headers)
    headers = CIMultiDict((k, v) for k, v in ctx.request.headers.items() if not rule.drops(k))
    return ctx.request.clone(headers=headers, rel_url=ctx.request.rel_url.with_query(tq.kept_query()))


def _answer_rules(ctx: Context, tq: TempUrlQuery, expires: int, section: TempurlSection) -> None:
    """Register the hook that cleans the answer's headers and, on a
    successful read, names its disposition and expiry."""
    rule = HeaderRule.of(section.outgoing_remove_headers, section.outgoing_allow_headers)
    reading = ctx.method in ("GET", "HEAD")
    obj = ctx.path.obj or ""

    async def adjust(response: web.StreamResponse) -> None:
        for name in [k for k in response.headers if rule.drops(k)]:
            del response.headers[name]
        if reading and 200 <= response.status < 300:
            existing = response.headers.pop("Content-Disposition", None)
            response.headers["Content-Disposition"] = answer_disposition(tq, existing, obj)
            response.headers["Expires"] = formatdate(expires, usegmt=True)

    on_response(ctx, adjust)
