"""Reading and writing an entity's replicas, as every handler needs it.

The ring of a path is chosen by what the path names (``SwiftPath.kind``:
account, container or object) and, for an object, by its container's
storage policy (``proxy.container_info.object_policy``); every object
request then names that policy to the storage nodes
(``X-Backend-Storage-Policy-Index``). A write goes to every replica at once and is
answered by the status a quorum agrees on; each replica's request names one
replica of the parent to update (an object's container, a container's
account). A read takes the first decisive replica's answer, which the
caller streams on (``relay``) or turns into an error (``raise_for_missing``).
The node-level work — handoffs, streaming bodies, error limiting — is
``proxy.fanout``'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

import aiohttp
from aiohttp import web

from martlet.conditional import http_date, last_modified_seconds
from martlet.config import is_true
from martlet.expiring import HIDDEN_ACCOUNT, task_container
from martlet.errors import NotFound, ServiceUnavailable
from martlet.http import ANSWER_CONTENT_TYPE
from martlet.netaddr import host_port
from martlet.policies import POLICY_INDEX_HEADER
from martlet.swift_path import SwiftPath
from martlet.timestamp import Timestamp
from proxy.container_info import object_policy
from proxy.fanout import (
    NODE_ERRORS,
    ReadAnswer,
    ReadResponse,
    read_first,
    write_bodiless,
    write_streaming,
)
from proxy.headers import backend_response_headers
from proxy.quorum import Written
from proxy.state import ProxyState
from ring import Device, Ring

# The headers naming the parent replica a write updates, by parent kind:
# X-Container-Host/-Device/-Partition, X-Account-Host/...
_UPDATE_PREFIX = {"container": "Container", "account": "Account"}
_REASONS = {404: "Not Found", 409: "Conflict", 412: "Precondition Failed",
            422: "Unprocessable Entity", 503: "Service Unavailable", 400: "Bad Request"}


def new_timestamp() -> str:
    """The ``X-Timestamp`` of a new write."""
    return Timestamp.now().internal


def last_modified(timestamp: str) -> str:
    """The ``Last-Modified`` of a write stamped ``timestamp`` (as the object server dates it)."""
    return http_date(last_modified_seconds(Timestamp.parse(timestamp).seconds))


def locate(state: ProxyState, path: SwiftPath, policy: int = 0) -> tuple[Ring, int, list[Device]]:
    """The ring, partition and primaries of what ``path`` names (an object
    of storage policy ``policy``)."""
    ring = state.ring(path.kind, policy)
    part, nodes = ring.get_nodes(path.account, path.container, path.obj)
    return ring, part, list(nodes)


async def place(state: ProxyState, path: SwiftPath,
                headers: Mapping[str, str]) -> tuple[Ring, int, list[Device], dict[str, str]]:
    """``locate``, and the backend headers of a request there: for an
    object, its container's storage policy picks the ring and is added to
    ``headers``."""
    if path.kind != "object":
        return (*locate(state, path), dict(headers))
    policy = await object_policy(state, path)
    return (*locate(state, path, policy), {**headers, POLICY_INDEX_HEADER: str(policy)})


def parent_of(path: SwiftPath) -> SwiftPath | None:
    """The entity whose listing shows ``path``: an object's container, a
    container's account; an account has none."""
    if path.obj is not None:
        return path.container_path()
    return path.account_path() if path.container is not None else None


def pair_by_host(writers: Sequence[Device], update_nodes: Sequence[Device]) -> list[Device]:
    """Pure: ``update_nodes`` reordered so that writer ``i`` (a replica's
    primary) gets, where one exists, the row replica on its own host.

    Which object replica tells which container replica does not matter to
    Swift's semantics (every row replica hears of the write once); pairing
    them by host lets a storage node apply the row itself, without an HTTP
    request to itself (``storage.local_rows``). Rows left unpaired keep
    their ring order. When the counts differ, ``update_nodes`` as given.
    """
    if len(writers) != len(update_nodes):
        return list(update_nodes)
    paired: list[Device | None] = [None] * len(writers)
    left = list(update_nodes)
    for i, writer in enumerate(writers):
        same = next((n for n in left if (n.ip, n.port) == (writer.ip, writer.port)), None)
        if same is not None:
            paired[i] = same
            left.remove(same)
    rest = iter(left)
    return [node if node is not None else next(rest) for node in paired]


def slot_headers(base: Mapping[str, str], replicas: int, update_nodes: Sequence[Device], update_part: int,
                 prefix: str, writers: Sequence[Device] = ()) -> list[dict[str, str]]:
    """Per-replica headers naming one replica of the entity to update.

    Each object replica updates one container replica (and each container
    replica one account replica), so every row replica hears of the write;
    given the ``writers`` (the primaries the slots go to, in order), each
    is paired with a row replica on its own host where one exists.
    """
    if writers:
        update_nodes = pair_by_host(writers, update_nodes)
    out = []
    for i in range(replicas):
        headers = dict(base)
        if update_nodes:
            node = update_nodes[i % len(update_nodes)]
            headers[f"X-{prefix}-Host"] = host_port(node.ip, node.port)
            headers[f"X-{prefix}-Device"] = node.device
            headers[f"X-{prefix}-Partition"] = str(update_part)
        out.append(headers)
    return out


def _replica_headers(state: ProxyState, path: SwiftPath, base: Mapping[str, str], writers: Sequence[Device],
                     update_parent: bool) -> list[dict[str, str]]:
    parent = parent_of(path) if update_parent else None
    if parent is None:
        return slot_headers(base, len(writers), [], 0, "")
    _, part, nodes = locate(state, parent)
    per_slot = slot_headers(base, len(writers), nodes, part, _UPDATE_PREFIX[parent.kind], writers)
    delete_at = base.get("X-Delete-At", "")
    if path.kind == "object" and delete_at.isascii() and delete_at.isdigit():
        per_slot = _expirer_task_headers(state, per_slot, int(delete_at))
    return per_slot


def _expirer_task_headers(state: ProxyState, per_slot: list[dict[str, str]], delete_at: int) -> list[dict[str, str]]:
    """Each object replica of a write that sets ``X-Delete-At`` also names
    one replica of the expirer's task container (Swift's
    ``X-Delete-At-Container/-Host/-Device/-Partition``) and one replica of
    the hidden account (``X-Delete-At-Account-*``, martlet's own: the
    container server creates a task container on its first row and reports
    it there, so the expirer can list the task containers). Writes without
    ``X-Delete-At`` cost nothing more."""
    container = task_container(delete_at)
    _, part, nodes = locate(state, SwiftPath(HIDDEN_ACCOUNT, container))
    _, account_part, account_nodes = locate(state, SwiftPath(HIDDEN_ACCOUNT))
    with_task = slot_headers({}, len(per_slot), nodes, part, "Delete-At")
    with_account = slot_headers({}, len(per_slot), account_nodes, account_part, "Delete-At-Account")
    return [{**slot, **task, **account, "X-Delete-At-Container": container}
            for slot, task, account in zip(per_slot, with_task, with_account)]


async def write_entity(state: ProxyState, method: str, path: SwiftPath, headers: Mapping[str, str], *,
                       update_parent: bool, query: Mapping[str, str] | None = None) -> Written:
    """A bodiless write (PUT/POST/DELETE) to every replica of ``path``;
    with ``update_parent`` each replica updates one of its parent's."""
    ring, part, nodes, headers = await place(state, path, headers)
    per_slot = _replica_headers(state, path, headers, nodes, update_parent)
    return Written(await write_bodiless(state, ring, part, method, path, per_slot, query), len(nodes))


async def put_object(state: ProxyState, path: SwiftPath, headers: Mapping[str, str],
                     chunks: AsyncIterator[bytes], length: int | None) -> Written:
    """Stream an object body to every replica, each naming its container replica."""
    ring, part, nodes, headers = await place(state, path, headers)
    per_slot = _replica_headers(state, path, headers, nodes, True)
    replies = await write_streaming(state, ring, part, path, per_slot, chunks, length, state.settings.max_file_size)
    return Written(replies, len(nodes))


def quorum_response(written: Written, headers: Mapping[str, str] | None = None) -> web.Response:
    """The client's answer to a write: the status a quorum agrees on."""
    status = written.status
    if status >= 300:
        body = _REASONS.get(status, "").encode("utf-8")
        return web.Response(status=status, body=body, headers={"Content-Type": ANSWER_CONTENT_TYPE})
    return web.Response(status=status, headers=dict(headers or {}))


def put_response(written: Written, timestamp: str, extra: Mapping[str, str] | None = None) -> web.Response:
    """The answer to an object PUT: 201 with Last-Modified and the ETag a
    quorum of replicas stored, or the status a quorum agrees on."""
    if written.status != 201:
        return quorum_response(written)
    headers = {"Last-Modified": last_modified(timestamp), **(extra or {})}
    etag = written.etag
    if etag:
        headers["ETag"] = etag
    return web.Response(status=201, headers=headers)


def wants_newest(headers: Mapping[str, str]) -> bool:
    """``X-Newest: true``: the client wants the newest replica's answer,
    not the first one (``proxy.fanout.read_newest``)."""
    return is_true(headers.get("X-Newest"))


async def read_entity(state: ProxyState, path: SwiftPath, method: str, headers: Mapping[str, str],
                      query: Mapping[str, str] | None = None, *, newest: bool = False) -> ReadAnswer:
    """The first decisive replica's answer (still open) to ``method`` on
    ``path``; with ``newest``, the newest of every replica's."""
    ring, part, _, headers = await place(state, path, headers)
    return await read_first(state, ring, part, method, path, headers, query, newest=newest)


def raise_for_missing(answer: ReadAnswer) -> None:
    """No decisive answer: 404 when a replica said so, else 503."""
    if answer.response is None:
        if 404 in answer.statuses:
            raise NotFound()
        raise ServiceUnavailable("No replica answered")


async def relay(request: web.Request, response: ReadResponse, chunk_size: int,
                headers: Mapping[str, str] | None = None) -> web.StreamResponse:
    """Stream one backend answer to the client (listings, account/container
    reads), with ``headers`` instead of the backend's own when given."""
    try:
        shown = backend_response_headers(response.headers) if headers is None else headers
        out = web.StreamResponse(status=response.status, headers=shown)
        length = response.headers.get("Content-Length")
        if length is not None:
            out.content_length = int(length)
        await out.prepare(request)
        if request.method != "HEAD":
            try:
                async for chunk in response.content.iter_chunked(chunk_size):
                    await out.write(chunk)
            except NODE_ERRORS:
                # The body is half sent and its length promised: cut the
                # connection so the client cannot take it as complete.
                if request.transport is not None:
                    request.transport.close()
                return out
        await out.write_eof()
        return out
    finally:
        response.release()


async def relay_chunks(response: ReadResponse, chunk_size: int, what: str) -> AsyncIterator[bytes]:
    """A backend answer's body in chunks, to be written elsewhere (a copy's
    source, a version being archived); a replica lost mid-read is a 503
    naming ``what``."""
    try:
        async for chunk in response.content.iter_chunked(chunk_size):
            yield chunk
    except NODE_ERRORS:
        raise ServiceUnavailable(f"{what} failed mid-read") from None
