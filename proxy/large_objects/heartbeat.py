"""Keeping a client's connection alive through a long manifest PUT.

Checking a manifest's segments (a HEAD each, ``slo_concurrency`` at a
time) can take longer than a client waits for a status line. With
``?heartbeat=on`` the proxy answers ``202 Accepted`` at once (chunked),
sends a space every ``slo_yield_frequency`` seconds while the work runs,
then a blank line and the outcome as a summary (``summary``): ``Response
Status``, ``Response Body`` and, on success, ``Etag`` and ``Last
Modified``; the bad segments under ``Errors``. That is Swift's form, which
clients that ask for heartbeats parse; ``/info`` advertises it as
``slo.yield_frequency``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from aiohttp import web

from proxy.context import Context
from proxy.large_objects.summary import Summary, summary_body, summary_format

log = logging.getLogger(__name__)

BEAT = b" "
SEPARATOR = b"\r\n\r\n"  # between the beats and the summary


async def keep_alive(ctx: Context, work: Awaitable[Summary], root: str) -> web.StreamResponse:
    """Answer 202 now, beat while ``work`` runs, then send its summary.

    A client that goes away cancels the work: its outcome has nobody to go
    to (a manifest not yet stored is then not stored).
    """
    content_type = summary_format(ctx.request.headers.get("Accept"))
    task = asyncio.ensure_future(work)
    out = web.StreamResponse(status=202, headers={"Content-Type": content_type})
    out.enable_chunked_encoding()
    try:
        await out.prepare(ctx.request)
        await out.write(BEAT)
        while not task.done():
            await asyncio.wait({task}, timeout=ctx.state.settings.slo_yield_frequency)
            if not task.done():
                await out.write(BEAT)
        summary = task.result()
    finally:
        if not task.done():
            task.cancel()
            log.info("client left a heartbeating request", extra={"path": ctx.request.path})
    await out.write(SEPARATOR + summary_body(content_type, summary.fields, summary.errors, root))
    await out.write_eof()
    return out
