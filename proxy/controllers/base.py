"""What every controller needs: the request context, authorization, and
turning backend answers (one streamed, or a quorum of many) into responses."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from martlet.conditional import http_date, last_modified_seconds
from martlet.errors import NotFound, ServiceUnavailable
from martlet.timestamp import Timestamp
from martlet.netaddr import host_port
from proxy.acl import ACL, Target, authorize, is_owner
from proxy.auth import Identity, verify_token
from proxy.constraints import SwiftPath
from proxy.fanout import NODE_ERRORS, Names, ReadAnswer, read_first, write_bodiless, write_streaming
from proxy.headers import backend_response_headers
from proxy.quorum import Reply, best_status, quorum_size
from proxy.state import ProxyState
from ring import Device, Ring


@dataclass(frozen=True)
class Context:
    """One client request as the controllers see it."""

    state: ProxyState
    request: web.Request
    path: SwiftPath
    identity: Identity | None

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def owner(self) -> bool:
        return self.owns(self.path.account)

    def owns(self, account: str) -> bool:
        return is_owner(self.identity, account, self.state.settings.reseller_prefix)

    def authorize(self, read_acl: ACL = ACL(), write_acl: ACL = ACL(), method: str | None = None,
                  container: str | None = None, obj: str | None = None,
                  account: str | None = None) -> None:
        p = self.path
        target = Target(method or self.method, account or p.account, container or p.container,
                        obj if obj is not None else p.obj)
        authorize(self.identity, target, reseller_prefix=self.state.settings.reseller_prefix,
                  read_acl=read_acl, write_acl=write_acl, referer=self.request.headers.get("Referer"))


def identify(state: ProxyState, request: web.Request) -> Identity | None:
    """The caller named by a valid token, or None (anonymous)."""
    token = request.headers.get("X-Auth-Token") or request.headers.get("X-Storage-Token")
    if not token:
        return None
    return verify_token(state.config.cluster.secret, token, time.time())


def new_timestamp() -> str:
    return Timestamp.now().internal


def last_modified(timestamp: str) -> str:
    """The ``Last-Modified`` of a write stamped ``timestamp`` (as the object server dates it)."""
    return http_date(last_modified_seconds(Timestamp.parse(timestamp).seconds))


def ring_names(kind: str, names: Names, state: ProxyState) -> tuple[Ring, int, list[Device]]:
    ring = state.ring(kind)
    part, nodes = ring.get_nodes(names.account, names.container, names.obj)
    return ring, part, list(nodes)


def slot_headers(base: Mapping[str, str], replicas: int, update_nodes: Sequence[Device], update_part: int,
                 prefix: str) -> list[dict[str, str]]:
    """Per-replica headers naming one replica of the entity to update.

    Each object replica updates one container replica (and each container
    replica one account replica), so every row replica hears of the write.
    """
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


_REASONS = {404: "Not Found", 409: "Conflict", 412: "Precondition Failed",
            422: "Unprocessable Entity", 503: "Service Unavailable", 400: "Bad Request"}


def quorum_response(replies: list[Reply], replicas: int, headers: Mapping[str, str] | None = None) -> web.Response:
    """The client's answer to a write: the status a quorum agrees on."""
    status = best_status([r.status for r in replies], quorum_size(replicas))
    body = _REASONS.get(status, "") if status >= 300 else None
    return web.Response(status=status, text=body, headers=dict(headers or {}) if status < 300 else None)


async def write_entity(ctx: Context, kind: str, method: str, names: Names, base: Mapping[str, str],
                       update_kind: str | None, update_prefix: str = "",
                       query: Mapping[str, str] | None = None) -> tuple[list[Reply], int]:
    """A bodiless write (PUT/POST/DELETE) to every replica of an entity."""
    ring, part, nodes = ring_names(kind, names, ctx.state)
    update_nodes: list[Device] = []
    update_part = 0
    if update_kind is not None:
        parent = Names(names.account, names.container if kind == "object" else None)
        _, update_part, update_nodes = ring_names(update_kind, parent, ctx.state)
    headers = slot_headers(base, len(nodes), update_nodes, update_part, update_prefix)
    replies = await write_bodiless(ctx.state, ring, part, method, names, headers, query)
    return replies, len(nodes)


async def put_object_replicas(ctx: Context, names: Names, headers: Mapping[str, str],
                              chunks: AsyncIterator[bytes], length: int | None) -> tuple[list[Reply], int]:
    """Stream an object body to every replica, each naming its container replica."""
    ring, part, nodes = ring_names("object", names, ctx.state)
    _, cpart, cnodes = ring_names("container", Names(names.account, names.container), ctx.state)
    per_slot = slot_headers(headers, len(nodes), cnodes, cpart, "Container")
    replies = await write_streaming(
        ctx.state, ring, part, names, per_slot, chunks, length, ctx.state.settings.max_file_size
    )
    return replies, len(nodes)


async def read_entity(ctx: Context, kind: str, names: Names, headers: Mapping[str, str],
                      query: Mapping[str, str] | None = None, method: str | None = None) -> ReadAnswer:
    ring, part, _ = ring_names(kind, names, ctx.state)
    return await read_first(ctx.state, ring, part, method or ctx.method, names, headers, query)


def raise_for_missing(answer: ReadAnswer) -> None:
    """No decisive answer: 404 when a replica said so, else 503."""
    if answer.response is None:
        if 404 in answer.statuses:
            raise NotFound()
        raise ServiceUnavailable("No replica answered")


async def relay(request: web.Request, response: aiohttp.ClientResponse, chunk_size: int,
                extra: Mapping[str, str] | None = None) -> web.StreamResponse:
    """Stream one backend answer to the client (listings, account/container reads)."""
    try:
        out = web.StreamResponse(status=response.status, headers=backend_response_headers(response.headers))
        out.headers.update(extra or {})
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
