"""``PUT ?extract-archive=tar|tar.gz|tar.bz2``: every regular file of the
archive becomes an object under the request's path (``/v1/<account>``:
the first directory of each file is its container; ``/v1/<account>/<c>``
or ``.../<c>/<prefix>``: under that).

The archive streams (``proxy.bulk.tar_stream``): each file is PUT as it
arrives, as the client's own PUT with the file's length (a subrequest down
the rest of the pipeline, so quotas and authorization apply to each one),
carrying the request's ``X-Object-Meta-*`` and ``X-Delete-At/-After`` and
the file's pax ``user.mime_type`` / ``user.meta.*`` attributes. A missing
container is created first (at most ``max_containers_per_extraction``).
Files at the top level of an account-level archive, links and directories
are skipped; ``max_failed_extractions`` failures end the request.
"""

from __future__ import annotations

from collections.abc import Mapping

from martlet.errors import BadRequest, EntityTooLarge, MartletError, NotFound, PreconditionFailed, Unauthorized
from martlet.swift_path import SwiftPath
from proxy.access import owns
from proxy.container_info import container_info
from proxy.bulk.delete import MAX_PATH_LENGTH
from proxy.bulk.results import Outcome, quoted, status_line
from proxy.bulk.tar_stream import ArchiveStream, Member, TarReader
from proxy.config import BulkSection
from proxy.constraints import check_names
from proxy.context import Context
from proxy.pipeline import Handler, status_of, subrequest

# pax keys of extended attributes, as GNU tar and libarchive write them.
_XATTR_PREFIXES = ("SCHILY.xattr.", "LIBARCHIVE.xattr.")
_PASSED = ("x-delete-at", "x-delete-after")


def new_outcome() -> Outcome:
    return Outcome(201, {"Number Files Created": 0})


def object_name(member_name: str, base: str) -> str | None:
    """Where a member goes, relative to the account (``container/object``);
    None for a file at an account-level archive's top level."""
    name = member_name[2:] if member_name.startswith("./") else member_name
    name = name.lstrip("/")
    if base:
        name = f"{base}/{name}"
    return name if "/" in name else None


def attribute_headers(pax: Mapping[str, str]) -> dict[str, str]:
    """``Content-Type`` and ``X-Object-Meta-*`` from a file's extended
    attributes ``user.mime_type`` and ``user.meta.*`` (others are not ours)."""
    headers = {}
    for key, value in pax.items():
        for prefix in _XATTR_PREFIXES:
            if not key.startswith(prefix):
                continue
            attribute = key[len(prefix):]
            if attribute == "user.mime_type":
                headers["Content-Type"] = value
            elif attribute.startswith("user.meta.") and len(attribute) > len("user.meta."):
                headers["X-Object-Meta-" + attribute[len("user.meta."):]] = value
    return headers


def put_headers(request_headers: Mapping[str, str], member: Member) -> dict[str, str]:
    headers = {k: v for k, v in request_headers.items()
               if k.lower() in _PASSED or k.lower().startswith("x-object-meta-")}
    headers.update(attribute_headers(member.pax))
    headers["Content-Length"] = str(member.size)
    return headers


def _report_name(name: str) -> str:
    return quoted(name[:MAX_PATH_LENGTH])


def destination(account: str, name: str, size: int, max_file_size: int) -> SwiftPath:
    """The object a file named ``name`` (``container/object``) becomes;
    412 for a name that is no UTF-8, 400 for one no object can have, 413
    for a file too large for one object."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise PreconditionFailed("Invalid UTF8") from None
    container, _, obj = name.partition("/")
    check_names(account, container, obj)
    if size > max_file_size:
        raise EntityTooLarge()
    return SwiftPath(account, container, obj)


async def extract_archive(ctx: Context, inner: Handler, settings: BulkSection, compression: str,
                          outcome: Outcome) -> None:
    """Extract the archive, reporting into ``outcome``."""
    base = "/".join(n for n in (ctx.path.container, ctx.path.obj) if n).rstrip("/")
    chunk_size = ctx.state.settings.chunk_size
    reader = TarReader(ArchiveStream(ctx.body_chunks(), compression, chunk_size), chunk_size)
    containers = _Containers(ctx, inner, settings.max_containers_per_extraction)
    gateway_error = False
    while len(outcome.errors) < settings.max_failed_extractions:
        member = await reader.next_member()
        if member is None:
            break
        name = object_name(member.name, base) if member.is_file else None
        if name is None:
            continue
        try:
            path = destination(ctx.path.account, name, member.size, ctx.state.settings.max_file_size)
        except MartletError as exc:
            outcome.errors.append((_report_name(name), status_line(exc.http_status)))
            continue
        container_failure = await containers.prepare(path)
        status = await status_of(inner, subrequest(ctx, "PUT", path, put_headers(ctx.request.headers, member),
                                                 reader.body()))
        if 200 <= status < 300:
            outcome.counters["Number Files Created"] += 1
            continue
        if container_failure is not None:
            outcome.errors.append(container_failure)
        outcome.errors.append((_report_name(name), status_line(status)))
        if status == 401:
            raise Unauthorized()
        gateway_error |= status >= 500
    if outcome.errors:
        outcome.status = 502 if gateway_error else 400
    elif not outcome.counters["Number Files Created"]:
        outcome.status, outcome.body = 400, "Invalid Tar File: No Valid Files"


class _Containers:
    """The containers an extraction writes into, each prepared once."""

    def __init__(self, ctx: Context, inner: Handler, limit: int) -> None:
        self.ctx, self.inner, self.limit = ctx, inner, limit
        self.seen: set[str] = set()
        self.created = 0

    async def prepare(self, path: SwiftPath) -> tuple[str, str] | None:
        """Make sure ``path``'s container exists (the first time it is
        named); the failure to report if its file fails too (401 ends the
        request, and so does passing the creation limit)."""
        assert path.container is not None
        if path.container in self.seen:
            return None
        self.seen.add(path.container)
        container = path.container_path()
        made, failure = await ensure_container(self.ctx, self.inner, container)
        if failure == 401:
            raise Unauthorized()
        self.created += made
        if self.created > self.limit:
            raise BadRequest(f"More than {self.limit} containers to create from tar.")
        if failure is None:
            return None
        return _report_name(f"/{container.account}/{container.container}"), status_line(failure)


async def ensure_container(ctx: Context, inner: Handler, path: SwiftPath) -> tuple[bool, int | None]:
    """(created it, the status that kept it from being created). Only the
    account's owner may create containers, so anyone else gets 401/403
    whether it exists or not (and files may still land through an ACL)."""
    if ctx.identity is None:
        return False, 401
    if not owns(ctx, path.account):
        return False, 403
    try:
        await container_info(ctx.state, path)
        return False, None
    except NotFound:
        pass
    except MartletError as exc:
        return False, exc.http_status
    status = await status_of(inner, subrequest(ctx, "PUT", path))
    return (True, None) if 200 <= status < 300 else (False, status)
