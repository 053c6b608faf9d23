"""Bulk operations, a pipeline feature (``[bulk]``): ``?bulk-delete``
(``delete``) and ``?extract-archive`` (``extract``), with Swift's semantics.

A bulk request can run for long, so its answer is always 200 and its
outcome is in the body (``results``). While the work runs, a space is sent
every ``yield_frequency`` seconds (XML: its declaration first) so that
neither the client nor anything in between gives up on a silent
connection; the report follows. A request that finishes sooner gets the
report alone. Each item is done with a subrequest down the rest of the
pipeline (``proxy.pipeline.subrequest``), authorized as the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from martlet.errors import BadRequest, LengthRequired, MartletError, NotAcceptable
from proxy.bulk.delete import bulk_delete, new_outcome as new_delete_outcome
from proxy.bulk.extract import extract_archive, new_outcome as new_extract_outcome
from proxy.bulk.results import XML_DECLARATION, Outcome, render, result_format
from proxy.bulk.tar_stream import COMPRESSIONS, TarError
from proxy.context import Context
from proxy.pipeline import Answer, Handler

log = logging.getLogger(__name__)

Work = Callable[[Outcome], Awaitable[None]]


def wrap(next_handler: Handler) -> Handler:
    """The pipeline entry point: bulk requests are answered here."""

    async def handle(ctx: Context) -> Answer:
        query, method = ctx.request.query, ctx.method
        settings = ctx.state.config.features.bulk
        if "extract-archive" in query and method == "PUT":
            compression = COMPRESSIONS.get(query["extract-archive"].lower().strip("."))
            if compression is None:
                raise BadRequest("Unsupported archive format")

            async def extract_work(outcome: Outcome) -> None:
                await extract_archive(ctx, next_handler, settings, compression, outcome)

            return await run(ctx, new_extract_outcome(), extract_work, "extract")
        if "bulk-delete" in query and method in ("POST", "DELETE"):

            async def delete_work(outcome: Outcome) -> None:
                await bulk_delete(ctx, next_handler, settings, outcome)

            return await run(ctx, new_delete_outcome(), delete_work, "delete")
        return await next_handler(ctx)

    return handle


async def run(ctx: Context, outcome: Outcome, work: Work, root_tag: str) -> web.StreamResponse:
    """Do ``work`` with heartbeats, and answer its report."""
    media_type = result_format(ctx.request.headers.get("Accept"))
    content_type = media_type or "text/plain"
    task = asyncio.ensure_future(_report(ctx, outcome, work, media_type))
    response: web.StreamResponse | None = None
    beat, separator = (XML_DECLARATION if content_type.endswith("/xml") else b" "), b""
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=ctx.state.config.features.bulk.yield_frequency)
            if task.done():
                break
            if response is None:
                response = web.StreamResponse(status=200, headers={"Content-Type": content_type})
                await response.prepare(ctx.request)
            await response.write(beat)
            beat, separator = b" ", b"\r\n\r\n"
    except BaseException:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    body = separator + render(outcome, media_type, root_tag)
    if response is None:
        return web.Response(status=200, body=body, headers={"Content-Type": content_type})
    await response.write(body)
    await response.write_eof()
    return response


async def _report(ctx: Context, outcome: Outcome, work: Work, media_type: str | None) -> None:
    """Run ``work``; whatever stops it becomes the report's status."""
    try:
        if media_type is None:
            raise NotAcceptable()
        request = ctx.request
        if request.content_length is None and request.headers.get("Transfer-Encoding", "").lower() != "chunked":
            raise LengthRequired()
        await work(outcome)
    except MartletError as exc:
        outcome.fail(exc)
    except TarError as exc:
        outcome.fail(BadRequest(f"Invalid Tar File: {exc}"))
    except Exception:
        log.exception("bulk request failed")
        outcome.fail(MartletError())
