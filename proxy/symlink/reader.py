"""Reads that follow symlinks below the pipeline: a large object's
segments (``proxy.large_objects.fetch``) and a copy's source
(``proxy.server_copy``) read replicas directly, so a link among them is
followed here, each target read only where the reader may read
(``proxy.access.check_read``), at most ``symloop_max`` links deep.
"""

from __future__ import annotations

from collections.abc import Mapping

from martlet.errors import Conflict
from martlet.swift_path import SwiftPath
from proxy.access import check_read
from proxy.context import Context
from proxy.fanout import ReadAnswer
from proxy.replicas import read_entity
from proxy.symlink.links import Link, check_etag, link_of, loop_reason

DEFAULT_SYMLOOP_MAX = 2
# Answers the backend judged by the request's conditions or Range: the
# object may be a link the conditions were meant to reach through.
JUDGED = (304, 412, 416)


def symloop_max(ctx: Context) -> int:
    section = getattr(ctx.state.config.features, "symlink", None)
    return section.symloop_max if section is not None else DEFAULT_SYMLOOP_MAX


async def link_behind(ctx: Context, path: SwiftPath, status: int, headers: Mapping[str, str],
                      sent: Mapping[str, str]) -> Link | None:
    """The link an object read's answer is, or None. An answer judged by
    conditions or a Range (sent to the link itself) is probed with a
    plain HEAD: only then does a plain object cost a second read."""
    if status < 300:
        return link_of(headers, path.account)
    if status not in JUDGED or not sent:
        return None
    probe = await read_entity(ctx.state, path, "HEAD", {})
    if probe.response is None:
        return None
    probe.response.release()
    if probe.response.status != 200:
        return None
    return link_of(probe.response.headers, path.account)


async def read_following(ctx: Context, path: SwiftPath, method: str, headers: Mapping[str, str],
                         *, newest: bool = False) -> ReadAnswer:
    """``read_entity`` of ``path`` (whose read access the caller checked),
    and of each link's target in turn until one is no link: 409 past
    ``symloop_max`` links or for a static link whose target changed; the
    reader's own 401/403 for a target it may not read."""
    return (await read_counting_links(ctx, path, method, headers, newest=newest))[0]


async def read_counting_links(ctx: Context, path: SwiftPath, method: str, headers: Mapping[str, str],
                              *, newest: bool = False) -> tuple[ReadAnswer, int]:
    """``read_following``, and how many links it went through."""
    limit = symloop_max(ctx)
    answer = await read_entity(ctx.state, path, method, dict(headers), newest=newest)
    expected: str | None = None
    hops = steps = 0
    while hops <= limit and steps <= 2 * limit + 1:  # steps: uncounted links cannot loop forever
        steps += 1
        response = answer.response
        if response is None:
            return answer, hops
        link = await link_behind(ctx, path, response.status, response.headers, headers)
        if expected is not None:
            try:
                check_etag(expected, response.headers, path_location(path))
            except Conflict:
                response.release()
                raise
        if link is None:
            return answer, hops
        response.release()
        if hops == limit and link.counted:
            break
        hops += link.counted
        await check_read(ctx, link.path)
        expected = link.etag
        path = link.path
        answer = await read_entity(ctx.state, path, method, dict(headers), newest=newest)
    raise Conflict(loop_reason(limit))


def path_location(path: SwiftPath) -> str:
    return Link(path.account, path.container or "", path.obj or "").location
