"""Talking to the replicas: writes to all primaries at once, reads in turn.

Writes: one slot per replica, each starting on a primary; a slot whose node
cannot be reached moves on to the next handoff (keeping its own headers, so
that its container update still goes to "its" container replica). A body is
streamed: each client chunk is queued to every slot's connection, a full
queue makes the reader wait (backpressure), and a slot that stalls longer
than ``node_timeout`` or fails is dropped rather than holding up the rest.

Reads: primaries in order, then handoffs, at most ``2 * replicas`` nodes;
the first decisive answer is used. A read goes on to the handoffs even when
every primary said 404, as Swift's does: a write acknowledged while all
primaries were unreachable lives only on handoffs until replication moves it
home, and must still read back. With ``X-Newest`` (``read_newest``) every
one of those nodes is asked at once and the newest decisive answer wins.

Error limiting: each answer is sorted by ``proxy.error_limiter.verdict``;
a fan-out's suspect answers (5xx, refused signatures, failures after the
request went out) are collected in a ``Tally`` and counted against their
nodes only when another node served the same request (``settle``), so
that a request whose content makes every replica fail limits no node.
A storage daemon's 401 (it refused this proxy's signature) is logged as a
configuration error and treated as 503: it is never the client's answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from multidict import CIMultiDictProxy

from martlet.backend import backend_path, backend_request
from martlet.backend_client import BackendConnectError
from martlet.errors import ClientDisconnect, EntityTooLarge
from martlet.swift_path import SwiftPath
from proxy.error_limiter import BACKEND_AUTH_REFUSED, Tally, Verdict, node_key, verdict
from proxy.quorum import Reply, is_newer
from proxy.state import ProxyState
from ring import Device, Ring

log = logging.getLogger(__name__)

NODE_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
# Failing to connect is the node's alone; a failure once the request went
# out may be the request's doing (proxy.error_limiter).
CONNECT_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, BackendConnectError)
QUEUE_CHUNKS = 4  # chunks buffered per backend connection before backpressure
# A PUT body of at most this many bytes (by its Content-Length) is read
# whole before the replicas are asked and sent to each in one write: no
# per-replica queue, task and body generator for what fits in one chunk.
SMALL_BODY = 65536


def key_of(node: Device) -> str:
    return node_key(node.ip, node.port, node.device)


def note_status(state: ProxyState, node: Device, status: int, tally: Tally) -> int:
    """Feed the error limiter with one backend answer (suspects go to
    ``tally``); returns the status as the proxy takes it: a refused
    signature is 503, never passed on to the client."""
    key = key_of(node)
    seen = verdict(status)
    if seen is Verdict.DEVICE_GONE:
        state.limiter.insufficient_storage(key, time.monotonic())
    elif seen is Verdict.SUSPECT:
        tally.suspects.append(key)
    else:
        state.limiter.success(key)
        tally.served = tally.served or seen is Verdict.SERVED
    if status == BACKEND_AUTH_REFUSED:
        log.error("storage node refused our backend signature: its [cluster] secret or clock differs",
                  extra={"node": key})
        return 503
    return status


def note_error(state: ProxyState, node: Device, exc: BaseException, tally: Tally | None = None) -> None:
    """A request that got no answer: counted at once when the node could
    not be reached (or outside a fan-out), else a suspect of ``tally``."""
    key = key_of(node)
    if tally is None or isinstance(exc, CONNECT_ERRORS):
        state.limiter.error(key, time.monotonic())
    else:
        tally.suspects.append(key)
    log.warning("backend error", extra={"node": key, "error": repr(exc)})


@contextmanager
def tallied(state: ProxyState) -> Iterator[Tally]:
    """A fan-out's ``Tally``, settled when the fan-out ends, however it ends."""
    tally = Tally()
    try:
        yield tally
    finally:
        settle(state, tally)


def settle(state: ProxyState, tally: Tally) -> None:
    """Count a finished fan-out's suspects, if another node served it."""
    now = time.monotonic()
    for key in tally.settle():
        state.limiter.error(key, now)
    if tally.suspects and not tally.served:
        log.warning("no node served the request; its failures are not counted against them",
                    extra={"nodes": tally.suspects})


@dataclass
class NodeIter:
    """Primaries, then handoffs, skipping error-limited nodes; at most ``limit``."""

    state: ProxyState
    primaries: Sequence[Device]
    handoffs: Iterator[Device]
    limit: int
    _given: int = 0
    _index: int = 0

    def next_node(self) -> tuple[Device, bool] | None:
        """(node, is_handoff), or None when there is no node left to try."""
        now = time.monotonic()
        while self._index < len(self.primaries):
            node = self.primaries[self._index]
            self._index += 1
            if self.state.limiter.is_limited(key_of(node), now):
                continue
            self._given += 1
            return node, False
        while self._given < self.limit:
            handoff = next(self.handoffs, None)
            if handoff is None:
                return None
            if self.state.limiter.is_limited(key_of(handoff), now):
                continue
            self._given += 1
            return handoff, True
        return None


def node_iter(state: ProxyState, ring: Ring, part: int) -> NodeIter:
    primaries = ring.get_part_nodes(part)
    return NodeIter(state, primaries, iter(ring.get_more_nodes(part)), 2 * len(primaries))


def node_path(device: str, part: int, path: SwiftPath) -> str:
    """Where ``path`` lives on one device: ``/<dev>/<part>/<account>[/...]``."""
    return backend_path(device, part, path.account, path.container, path.obj)


def reply_of(status: int, headers: Mapping[str, str]) -> Reply:
    return Reply(status, (headers.get("ETag") or "").strip('"') or None, _stamp_of(headers))


async def _send_slot(
    state: ProxyState,
    nodes: NodeIter,
    method: str,
    part: int,
    path: SwiftPath,
    headers: Mapping[str, str],
    query: Mapping[str, str] | None,
    tally: Tally,
    make_body: Callable[[], AsyncIterator[bytes]] | None = None,
    started: asyncio.Event | None = None,
    body: bytes | None = None,
) -> Reply:
    """One replica's write: try nodes until one answers or none is left.

    With a body, a node may be replaced only while the body has not started
    to flow (``started`` is set by the body generator once connected).
    """
    while True:
        picked = nodes.next_node()
        if picked is None:
            return Reply(503)
        node = picked[0]
        try:
            if make_body is None:  # no body, or a small one: answered whole
                answer = await state.client.request(
                    node.ip, node.port, method, node_path(node.device, part, path),
                    headers=headers, query=query, body=body,
                )
                got_status, got_headers = answer.status, answer.headers
            else:
                response = await backend_request(
                    state.session, node.ip, node.port, method, node_path(node.device, part, path),
                    headers=headers, query=query, data=make_body(),
                )
                async with response:
                    await response.read()
                got_status, got_headers = response.status, response.headers
        except NODE_ERRORS as exc:
            note_error(state, node, exc, tally)
            if started is not None and started.is_set():
                return Reply(503)
            continue
        status = note_status(state, node, got_status, tally)
        if got_status == 507 and (started is None or not started.is_set()):
            continue
        return reply_of(got_status, got_headers) if status == got_status else Reply(status)


async def write_bodiless(
    state: ProxyState,
    ring: Ring,
    part: int,
    method: str,
    path: SwiftPath,
    slot_headers: Sequence[Mapping[str, str]],
    query: Mapping[str, str] | None = None,
) -> list[Reply]:
    """PUT/POST/DELETE without a body to every replica at once."""
    nodes = node_iter(state, ring, part)
    with tallied(state) as tally:
        return list(await asyncio.gather(
            *(_send_slot(state, nodes, method, part, path, h, query, tally) for h in slot_headers)))


@dataclass
class _Slot:
    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_CHUNKS))
    started: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[Reply] | None = None

    async def body(self) -> AsyncIterator[bytes]:
        self.started.set()
        # An empty first chunk makes aiohttp send the request line and
        # headers alone; else it joins them with the first chunk, a copy of
        # up to ``chunk_size`` bytes per replica.
        yield b""
        while True:
            chunk = await self.queue.get()
            if chunk is None:
                return
            yield chunk


async def _wait_started(slots: list[_Slot]) -> None:
    """Until each slot's connection is up (body flowing) or its task ended."""
    for slot in slots:
        assert slot.task is not None
        started = asyncio.ensure_future(slot.started.wait())
        await asyncio.wait({started, slot.task}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()


async def _feed(slot: _Slot, chunk: bytes | None, timeout: float) -> bool:
    """Queue ``chunk`` for one slot; False when the slot died or stalled."""
    assert slot.task is not None
    if slot.task.done():
        return False
    try:
        slot.queue.put_nowait(chunk)
        return True
    except asyncio.QueueFull:
        pass
    put = asyncio.ensure_future(slot.queue.put(chunk))
    done, _ = await asyncio.wait({put, slot.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if put in done:
        return True
    put.cancel()
    if not slot.task.done():
        slot.task.cancel()  # stalled longer than node_timeout
    return False


async def _read_small(chunks: AsyncIterator[bytes], expected: int) -> bytes:
    """A small body whole: exactly ``expected`` bytes, else 499."""
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) > expected:
            raise EntityTooLarge("Your request is larger than its Content-Length")
    if len(data) < expected:
        raise ClientDisconnect("Client sent less than its Content-Length")
    return bytes(data)


async def _write_small(state: ProxyState, ring: Ring, part: int, path: SwiftPath,
                       slot_headers: Sequence[Mapping[str, str]], body: bytes) -> list[Reply]:
    """PUT a body already read to every replica at once: each request goes
    out with its body in one write, and a node that fails before answering
    is replaced, since the body can be sent again."""
    nodes = node_iter(state, ring, part)
    with tallied(state) as tally:
        return list(await asyncio.gather(
            *(_send_slot(state, nodes, "PUT", part, path, h, None, tally, body=body) for h in slot_headers)))


async def write_streaming(
    state: ProxyState,
    ring: Ring,
    part: int,
    path: SwiftPath,
    slot_headers: Sequence[Mapping[str, str]],
    chunks: AsyncIterator[bytes],
    expected: int | None,
    max_size: int,
) -> list[Reply]:
    """PUT a body to every replica at once, streaming each chunk to all.

    Raises ClientDisconnect (499) when the client sends less than announced
    and EntityTooLarge (413) when a chunked body passes ``max_size``; in both
    cases every backend connection is cut before its body is complete, so no
    replica commits it.
    """
    if expected is not None and expected <= SMALL_BODY:
        return await _write_small(state, ring, part, path, slot_headers, await _read_small(chunks, expected))
    nodes = node_iter(state, ring, part)
    tally = Tally()
    slots = [_Slot() for _ in slot_headers]
    for slot, headers in zip(slots, slot_headers):
        slot.task = asyncio.ensure_future(
            _send_slot(state, nodes, "PUT", part, path, headers, None, tally, slot.body, slot.started)
        )
    timeout = state.settings.node_timeout
    try:
        await _wait_started(slots)
        live = [s for s in slots if s.task is not None and not s.task.done()]
        received = 0
        async for chunk in chunks:
            received += len(chunk)
            if received > max_size or (expected is not None and received > expected):
                raise EntityTooLarge(f"Your request is too large; max_file_size is {max_size}")
            live = [s for s in live if await _feed(s, chunk, timeout)]
            if not live:
                break
        if live and expected is not None and received < expected:
            raise ClientDisconnect("Client sent less than its Content-Length")
        for slot in live:
            await _feed(slot, None, timeout)
        done, pending = await asyncio.wait([s.task for s in slots if s.task], timeout=timeout)
        for task in pending:
            task.cancel()
    except BaseException:
        for slot in slots:
            if slot.task is not None:
                slot.task.cancel()
        await asyncio.gather(*(s.task for s in slots if s.task), return_exceptions=True)
        raise
    finally:
        settle(state, tally)
    return [
        s.task.result() if s.task in done and not s.task.cancelled() else Reply(503)
        for s in slots
        if s.task is not None
    ]


class ReadResponse(Protocol):
    """A read's backend answer as its consumers take it: aiohttp's
    ``ClientResponse`` (a GET, its body still to stream), or a
    ``HeadAnswer``."""

    @property
    def method(self) -> str: ...

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> CIMultiDictProxy[str]: ...

    @property
    def content(self) -> aiohttp.StreamReader: ...

    async def read(self) -> bytes: ...

    def release(self) -> Any: ...


@dataclass(frozen=True)
class HeadAnswer:
    """A node's whole answer to a HEAD (``martlet.backend_client``): there
    is no body to stream, so it comes back whole and holds no connection."""

    status: int
    headers: CIMultiDictProxy[str]
    content: aiohttp.StreamReader = aiohttp.EMPTY_PAYLOAD
    method: str = "HEAD"

    async def read(self) -> bytes:
        return b""  # what aiohttp reads of an answer to HEAD

    def release(self) -> None:
        """Nothing to give back: the connection went back to the pool."""


@dataclass
class ReadAnswer:
    """The chosen backend answer of a read, still open, and how it was found."""

    response: ReadResponse | None
    node: Device | None
    nodes: NodeIter
    statuses: list[int]
    tombstone: str | None = None  # newest X-Backend-Timestamp among the 404s
    primary_404: bool = False  # a primary (not a handoff) said "not found"


def _stamp_of(headers: Mapping[str, str]) -> str | None:
    return headers.get("X-Backend-Timestamp") or headers.get("X-Timestamp")


async def _ask(state: ProxyState, node: Device, method: str, part: int, path: SwiftPath,
               headers: Mapping[str, str], query: Mapping[str, str] | None,
               tally: Tally) -> tuple[ReadResponse | None, int]:
    """One node's answer (None when it could not be reached) and its status
    as the proxy takes it (``note_status``; 503 for no answer)."""
    response: ReadResponse
    try:
        if method == "HEAD":
            answer = await state.client.request(node.ip, node.port, method, node_path(node.device, part, path),
                                                headers=headers, query=query)
            response = HeadAnswer(answer.status, answer.headers)
        else:
            response = await backend_request(state.session, node.ip, node.port, method,
                                             node_path(node.device, part, path), headers=headers, query=query)
    except NODE_ERRORS as exc:
        note_error(state, node, exc, tally)
        return None, 503
    return response, note_status(state, node, response.status, tally)


async def read_first(
    state: ProxyState,
    ring: Ring,
    part: int,
    method: str,
    path: SwiftPath,
    headers: Mapping[str, str],
    query: Mapping[str, str] | None = None,
    nodes: NodeIter | None = None,
    newest: bool = False,
) -> ReadAnswer:
    """The first decisive answer (anything but 404 and 5xx) from the replicas,
    or with ``newest`` (``X-Newest``) the newest of all (``read_newest``).

    404s are remembered with their timestamps, so that an object found on a
    later node but older than a tombstone seen earlier counts as deleted.
    The caller must release ``response``.
    """
    if newest:
        return await read_newest(state, ring, part, method, path, headers, query)
    nodes = nodes or node_iter(state, ring, part)
    with tallied(state) as tally:
        return await _read_first(state, part, method, path, headers, query, nodes, tally)


async def _read_first(
    state: ProxyState,
    part: int,
    method: str,
    path: SwiftPath,
    headers: Mapping[str, str],
    query: Mapping[str, str] | None,
    nodes: NodeIter,
    tally: Tally,
) -> ReadAnswer:
    statuses: list[int] = []
    tombstone: str | None = None
    primary_404 = False
    while (picked := nodes.next_node()) is not None:
        node, is_handoff = picked
        response, status = await _ask(state, node, method, part, path, headers, query, tally)
        statuses.append(status)
        if response is None:
            continue
        stamp = _stamp_of(response.headers)
        if status == 404 or status >= 500:
            if status == 404:
                primary_404 = primary_404 or not is_handoff
                if is_newer(stamp, tombstone):
                    tombstone = stamp
            response.release()
            continue
        if tombstone is not None and 200 <= response.status < 300 and not is_newer(stamp, tombstone):
            response.release()
            statuses[-1] = 404
            continue
        return ReadAnswer(response, node, nodes, statuses, tombstone, primary_404)
    return ReadAnswer(None, None, nodes, statuses, tombstone, primary_404)


async def read_newest(state: ProxyState, ring: Ring, part: int, method: str, path: SwiftPath,
                      headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> ReadAnswer:
    """``X-Newest``: every node a read may use (primaries, then handoffs, as
    ``read_first`` would try them) is asked at once, and the decisive answer
    with the newest timestamp wins, as Swift's does. A caller that must
    not miss a write still being replicated (a server-side copy's source, a
    client checking its own write) pays one request per node for that.
    Answers no newer than the newest tombstone count as 404s.
    """
    nodes = node_iter(state, ring, part)
    picked: list[tuple[Device, bool]] = []
    while (one := nodes.next_node()) is not None:
        picked.append(one)
    with tallied(state) as tally:
        answers = await asyncio.gather(*(_ask(state, node, method, part, path, headers, query, tally)
                                         for node, _ in picked))
    statuses: list[int] = []
    tombstone: str | None = None
    primary_404 = False
    found: list[tuple[int, ReadResponse, Device]] = []
    for (node, is_handoff), (response, status) in zip(picked, answers):
        statuses.append(status)
        if response is None:
            continue
        if status == 404 or status >= 500:
            if status == 404:
                primary_404 = primary_404 or not is_handoff
                stamp = _stamp_of(response.headers)
                if is_newer(stamp, tombstone):
                    tombstone = stamp
            response.release()
            continue
        found.append((len(statuses) - 1, response, node))
    best: tuple[ReadResponse, Device] | None = None
    for index, response, node in found:
        stamp = _stamp_of(response.headers)
        if tombstone is not None and 200 <= response.status < 300 and not is_newer(stamp, tombstone):
            statuses[index] = 404  # older than a delete seen elsewhere
            response.release()
        elif best is None or is_newer(stamp, _stamp_of(best[0].headers)):
            if best is not None:
                best[0].release()
            best = (response, node)
        else:
            response.release()
    if best is None:
        return ReadAnswer(None, None, nodes, statuses, tombstone, primary_404)
    return ReadAnswer(best[0], best[1], nodes, statuses, tombstone, primary_404)
