"""``?bulk-delete``: POST or DELETE a newline-separated list of
percent-quoted ``/container/object`` or ``/container`` paths of the
request's account; each is deleted as the client's own DELETE (a
subrequest down the rest of the pipeline), objects first, then the
containers, which must be empty by then.

The list is read up to ``max_deletes_per_request`` names (more: 413) and a
name is at most a container and an object name long (a longer line: 400).
The report counts what was deleted and what was not found; every other
item is an error with its status, and ``max_failed_deletes`` errors stop
the request (400). A 401 on an item is an error like any other, so a
stranger learns no more from a bulk delete than from single ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from martlet.errors import BadRequest, EntityTooLarge, MartletError, NotAcceptable, PreconditionFailed
from martlet.swift_path import SwiftPath
from proxy.bulk.results import Outcome, quoted, status_line, unquoted
from proxy.config import BulkSection
from proxy.constraints import MAX_CONTAINER_NAME_LENGTH, MAX_OBJECT_NAME_LENGTH, check_names
from proxy.context import Context
from proxy.pipeline import Handler, status_of, subrequest

MAX_PATH_LENGTH = MAX_OBJECT_NAME_LENGTH + MAX_CONTAINER_NAME_LENGTH + 2


def new_outcome() -> Outcome:
    return Outcome(200, {"Number Deleted": 0, "Number Not Found": 0})


def split_names(data: bytes, final: bool) -> tuple[list[str], bytes]:
    """The complete lines of ``data`` as names (all of it when ``final``),
    and what is left of an unfinished last line. Blank lines are skipped."""
    *lines, rest = data.split(b"\n")
    if final:
        lines, rest = lines + [rest], b""
    return [name for name in (unquoted(line) for line in lines) if name], rest


async def read_names(ctx: Context, limit: int) -> list[str]:
    """The request body's names (413 past ``limit`` names, 400 for a line
    longer than any path)."""
    names: list[str] = []
    rest = b""
    async for chunk in ctx.body_chunks():
        found, rest = split_names(rest + chunk, final=False)
        names += found
        if len(names) > limit:
            raise EntityTooLarge(f"Maximum Bulk Deletes: {limit} per request")
        if len(rest) > MAX_PATH_LENGTH * 2:
            raise BadRequest("Invalid File Name")
    names += split_names(rest, final=True)[0]
    if len(names) > limit:
        raise EntityTooLarge(f"Maximum Bulk Deletes: {limit} per request")
    return names


def target(account: str, name: str) -> SwiftPath:
    """The path a listed name deletes (400/412 for one no path can be)."""
    container, _, obj = name.lstrip("/").partition("/")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise PreconditionFailed("Invalid UTF8") from None
    path = SwiftPath(account, container, obj or None)
    check_names(account, container, obj or None)
    return path


async def bulk_delete(ctx: Context, inner: Handler, settings: BulkSection, outcome: Outcome) -> None:
    """Do the delete, reporting into ``outcome`` (the whole request's
    failure too: ``Outcome.fail``)."""
    content_type = ctx.request.headers.get("Content-Type")
    if content_type and not content_type.startswith("text/plain"):
        raise NotAcceptable()
    names = await read_names(ctx, settings.max_deletes_per_request)
    objects = [n for n in names if "/" in n.strip("/")]
    containers = [n for n in names if "/" not in n.strip("/")]
    gateway_error = False
    for batch in (objects, containers):
        statuses = await _delete_all(ctx, inner, batch, settings, outcome)
        for name, status in zip(batch, statuses):
            if status is None:
                continue  # not tried: the failure limit was reached
            if 200 <= status < 300:
                outcome.counters["Number Deleted"] += 1
            elif status == 404:
                outcome.counters["Number Not Found"] += 1
            else:
                gateway_error |= status >= 500
                outcome.errors.append((quoted(name), status_line(status)))
        if len(outcome.errors) >= settings.max_failed_deletes:
            raise BadRequest("Max delete failures exceeded")
    if outcome.errors:
        outcome.status = 502 if gateway_error else 400
    elif not (outcome.counters["Number Deleted"] or outcome.counters["Number Not Found"]):
        outcome.status, outcome.body = 400, "Invalid bulk delete."


async def _delete_all(ctx: Context, inner: Handler, names: Sequence[str], settings: BulkSection,
                      outcome: Outcome) -> list[int | None]:
    """Each name's DELETE status, ``delete_concurrency`` at a time; once
    ``max_failed_deletes`` items failed, the rest are not tried (None)."""
    statuses: list[int | None] = [None] * len(names)
    gate = asyncio.Semaphore(settings.delete_concurrency)
    failed = len(outcome.errors)

    async def one(index: int) -> None:
        nonlocal failed
        async with gate:
            if failed >= settings.max_failed_deletes:
                return
            status = await delete_one(ctx, inner, names[index])
            statuses[index] = status
            if not (200 <= status < 300 or status == 404):
                failed += 1

    await asyncio.gather(*(one(i) for i in range(len(names))))
    return statuses


async def delete_one(ctx: Context, inner: Handler, name: str) -> int:
    """The status of the client's DELETE of one listed name."""
    try:
        path = target(ctx.path.account, name)
    except MartletError as exc:
        return exc.http_status
    return await status_of(inner, subrequest(ctx, "DELETE", path))
