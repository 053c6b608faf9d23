"""Symlinks, a pipeline feature (Swift's ``symlink`` middleware).

* ``PUT`` with ``X-Symlink-Target: <container>/<object>`` (and
  ``X-Symlink-Target-Account``) makes a zero-byte link; with
  ``X-Symlink-Target-Etag`` a *static* link, made only when the target
  (read with the client's own rights) has that ETag.
* ``GET``/``HEAD`` of a link reads its target instead, again with the
  client's rights, following at most ``symloop_max`` links (409 past
  that); the answer names the target in ``Content-Location``.
  ``?symlink=get`` reads the link itself.
* ``POST`` and ``DELETE`` act on the link itself; a POST to a link is
  answered 307 with the target as ``Location``.

The pure part (headers in, link out) is ``links``; reads below the
pipeline (segments, copy sources) follow links with ``reader``. A request
that names no link costs nothing here but a dictionary look-up, except
an object POST (a HEAD after it) and a conditional read the backend
refused (a HEAD to see if it was a link).
"""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDictProxy

from martlet.errors import BadRequest, Conflict, MartletError
from proxy.access import check_read
from proxy.context import Context
from proxy.headers import READ_HEADERS
from proxy.object_stream import ObjectStream
from proxy.pipeline import Answer, Handler, on_response, subrequest
from proxy.replicas import read_entity
from proxy.symlink.links import (
    ETAG_SYSMETA, TARGET_HEADER, Link, check_etag, client_headers, link_headers, link_of, loop_reason,
    parse_link_request, validated_by,
)
from proxy.symlink.reader import link_behind, read_following, symloop_max

__all__ = ["Link", "link_headers", "link_of", "read_following", "wrap"]


def wrap(next_handler: Handler) -> Handler:
    """The pipeline entry point."""

    async def handle(ctx: Context) -> Answer:
        if ctx.path.kind != "object":
            return await next_handler(ctx)
        method = ctx.method
        if method == "PUT" and TARGET_HEADER in ctx.request.headers:
            return await _put_link(ctx, next_handler)
        if method == "POST":
            if TARGET_HEADER in ctx.request.headers:
                raise BadRequest("A PUT request is required to set a symlink target")
            return await _post(ctx, next_handler)
        if method in ("GET", "HEAD"):
            if ctx.request.query.get("symlink") == "get":
                return await _read_link_itself(ctx, next_handler)
            return await _read_through(ctx, next_handler)
        return await next_handler(ctx)

    return handle


async def _put_link(ctx: Context, next_handler: Handler) -> Answer:
    headers = ctx.request.headers
    link = parse_link_request(headers, ctx.path)
    assert link is not None
    chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
    if headers.get("Content-Length", "0").strip() not in ("0", "") or chunked:
        raise BadRequest("Symlink requests require a zero byte body")
    content_type = None if "Content-Type" in headers else "application/symlink"
    slo_etag = None
    if link.etag is not None:
        link, target = await _static_target(ctx, link)
        if "Content-Type" not in headers:
            content_type = target.get("Content-Type", "application/octet-stream")
        if not target.get(ETAG_SYSMETA):  # the object itself, not another static link
            slo_etag = target.get("X-Object-Sysmeta-Slo-Etag")
    return await next_handler(ctx.with_backend_headers(link_headers(link, content_type, slo_etag)))


async def _static_target(ctx: Context, link: Link) -> tuple[Link, CIMultiDictProxy[str]]:
    """``link`` with its target's size, and the target's headers, once the
    target (as the client may read it, the object itself, never followed)
    has the link's ETag."""
    await check_read(ctx, link.path)
    answer = await read_entity(ctx.state, link.path, "HEAD", {})
    if answer.response is None:
        if 404 in answer.statuses:
            raise Conflict("X-Symlink-Target does not exist")
        raise MartletError("Target unavailable")
    answer.response.release()
    target = answer.response.headers
    assert link.etag is not None
    check_etag(link.etag, target, link.location)
    etag, size = validated_by(target)
    return Link(link.account, link.container, link.obj, etag, size, link.own_account), target


async def _post(ctx: Context, next_handler: Handler) -> Answer:
    """The POST acts on the object; a link's answer is a 307 to its target."""
    answer = await next_handler(ctx)
    if not isinstance(answer, web.StreamResponse) or answer.status != 202:
        return answer
    probe = await read_entity(ctx.state, ctx.path, "HEAD", {})
    if probe.response is None:
        return answer
    probe.response.release()
    link = link_of(probe.response.headers, ctx.path.account)
    if link is None:
        return answer
    headers = {"Location": link.location}
    if link.etag is not None:
        headers["X-Symlink-Target-Etag"] = link.etag
        if link.size is not None:
            headers["X-Symlink-Target-Bytes"] = str(link.size)
    return web.Response(status=307, headers=headers)


async def _read_link_itself(ctx: Context, next_handler: Handler) -> Answer:
    answer = await next_handler(ctx)
    if isinstance(answer, ObjectStream):
        link = link_of(answer.response.headers, ctx.path.account)
        if link is not None:
            shown = client_headers(link)

            async def show(response: web.StreamResponse) -> None:
                response.headers.update(shown)

            on_response(ctx, show)
    return answer


async def _read_through(ctx: Context, next_handler: Handler) -> Answer:
    """The object, or for a link its target's answer (its conditions and
    Range meant for the target), with the target's Content-Location."""
    answer = await next_handler(ctx)
    if not isinstance(answer, ObjectStream):
        return answer
    try:
        link = await link_behind(ctx, answer.path, answer.response.status, answer.response.headers, answer.sent)
    except BaseException:
        answer.close()
        raise
    if link is None:
        return answer
    answer.close()
    location = [link.location]

    async def locate(response: web.StreamResponse) -> None:
        response.headers["Content-Location"] = location[0]

    on_response(ctx, locate)
    sent = {h: ctx.request.headers[h] for h in READ_HEADERS if h in ctx.request.headers}
    limit = symloop_max(ctx)
    hops = steps = 0
    while hops < limit and steps <= 2 * limit:  # steps: uncounted links cannot loop forever
        hops += link.counted
        steps += 1
        location[0] = link.location
        try:
            target = await next_handler(subrequest(ctx, ctx.method, link.path, sent))
        except MartletError as exc:
            exc.headers.setdefault("Content-Location", link.location)
            raise
        if not isinstance(target, ObjectStream):
            return target
        response = target.response
        try:
            if link.etag is not None:
                check_etag(link.etag, response.headers, link.location)
            following = await link_behind(ctx, target.path, response.status, response.headers, target.sent)
        except BaseException:
            target.close()
            raise
        if following is None:
            return target
        target.close()
        link = following
    raise Conflict(loop_reason(limit))
