"""What the fan-out counts against a node: its own faults, never a request's.

Fake storage nodes (in-process aiohttp servers on 127.0.0.1 answering a set
status, or sleeping, or not listening at all) behind ``proxy.fanout``'s
writes and reads, with a real ``ErrorLimiter``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from martlet.backend import BackendTimeouts, make_session
from martlet.backend_auth import BackendKey
from martlet.backend_client import WholeAnswerClient
from martlet.swift_path import SwiftPath
from proxy.config import ProxySection
from proxy.error_limiter import ErrorLimiter
from proxy.fanout import HeadAnswer, key_of, read_first, write_bodiless
from ring import Device

KEY = BackendKey.from_secret("test")
PATH = SwiftPath("AUTH_a", "c", "o")
LIMIT = 3


@dataclass
class FakeNode:
    """Answers every request with ``status`` (after ``delay`` seconds)."""

    status: int = 201
    delay: float = 0.0
    runner: web.AppRunner | None = None
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.status, headers={"X-Timestamp": "1700000000.00000"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]


@dataclass
class FakeRing:
    primaries: list[Device]

    def get_part_nodes(self, part: int) -> list[Device]:
        return self.primaries

    def get_more_nodes(self, part: int) -> Iterator[Device]:
        return iter(())


@dataclass
class FakeState:
    """The parts of ``ProxyState`` the fan-out uses."""

    session: aiohttp.ClientSession
    client: WholeAnswerClient
    limiter: ErrorLimiter = field(default_factory=lambda: ErrorLimiter(limit=LIMIT, interval=60.0))
    settings: ProxySection = field(default_factory=ProxySection)


def device(port: int, name: str) -> Device:
    return Device(id=port % 1000, region=1, zone=1, ip="127.0.0.1", port=port, device=name, weight=1.0)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def nodes() -> AsyncIterator[list[FakeNode]]:
    fakes = [FakeNode() for _ in range(3)]
    for fake in fakes:
        await fake.start()
    yield fakes
    for fake in fakes:
        assert fake.runner is not None
        await fake.runner.cleanup()


@pytest.fixture
async def state() -> AsyncIterator[FakeState]:
    timeouts = BackendTimeouts(conn_timeout=0.5, node_timeout=0.3)
    session = make_session(KEY, timeouts)
    async with WholeAnswerClient(KEY, timeouts) as client:
        yield FakeState(session, client)
    await session.close()


def ring_of(fakes: list[FakeNode]) -> FakeRing:
    return FakeRing([device(f.port, f"d{i}") for i, f in enumerate(fakes)])


def limited(state: FakeState, ring: FakeRing) -> list[bool]:
    now = time.monotonic()  # the limiter's clock
    return [state.limiter.is_limited(key_of(d), now) for d in ring.primaries]


async def put(state: FakeState, ring: FakeRing) -> list[int]:
    replies = await write_bodiless(state, ring, 0, "PUT", PATH, [{}] * len(ring.primaries))  # type: ignore[arg-type]
    return [r.status for r in replies]


async def get(state: FakeState, ring: FakeRing, method: str = "GET") -> list[int]:
    answer = await read_first(state, ring, 0, method, PATH, {})  # type: ignore[arg-type]
    if answer.response is not None:
        answer.response.release()
    return answer.statuses


async def test_a_request_every_replica_fails_limits_no_node(nodes: list[FakeNode], state: FakeState) -> None:
    for fake in nodes:
        fake.status = 500
    ring = ring_of(nodes)
    for _ in range(LIMIT * 5):
        assert await put(state, ring) == [500, 500, 500]
        assert await get(state, ring) == [500, 500, 500]
    assert limited(state, ring) == [False, False, False]


async def test_a_node_failing_what_others_serve_is_limited(nodes: list[FakeNode], state: FakeState) -> None:
    nodes[1].status = 500
    ring = ring_of(nodes)
    for _ in range(LIMIT):
        assert sorted(await put(state, ring)) == [201, 201, 500]
    assert limited(state, ring) == [False, True, False]
    # Reads skip it now, and a read it fails before another node serves counts too.
    assert await get(state, ring) == [201]


async def test_a_read_counts_the_failures_before_the_node_that_served(
    nodes: list[FakeNode], state: FakeState
) -> None:
    nodes[0].status = 503
    nodes[1].status = 200
    ring = ring_of(nodes)
    for _ in range(LIMIT):
        assert await get(state, ring) == [503, 200]
    assert limited(state, ring) == [True, False, False]


async def test_answers_that_are_not_served_clear_nothing_and_count_nothing(
    nodes: list[FakeNode], state: FakeState
) -> None:
    nodes[0].status = 500
    nodes[1].status = 404
    nodes[2].status = 404
    ring = ring_of(nodes)
    for _ in range(LIMIT * 2):
        assert await get(state, ring) == [500, 404, 404]
    assert limited(state, ring) == [False, False, False]


async def test_a_refused_signature_is_503_and_counted_like_a_5xx(nodes: list[FakeNode], state: FakeState) -> None:
    nodes[2].status = 401
    ring = ring_of(nodes)
    for _ in range(LIMIT):
        assert sorted(await put(state, ring)) == [201, 201, 503]  # never the client's 401
    assert limited(state, ring) == [False, False, True]
    for fake in nodes:
        fake.status = 401
    state.limiter = ErrorLimiter(limit=LIMIT, interval=60.0)
    assert await get(state, ring) == [503, 503, 503]


async def test_a_timeout_counts_when_others_serve(nodes: list[FakeNode], state: FakeState) -> None:
    nodes[0].delay = 1.0  # longer than node_timeout
    ring = ring_of(nodes)
    for _ in range(LIMIT):
        assert sorted(await put(state, ring)) == [201, 201, 503]
    assert limited(state, ring) == [True, False, False]
    for fake in nodes:
        fake.delay = 1.0
    state.limiter = ErrorLimiter(limit=LIMIT, interval=60.0)
    for _ in range(LIMIT):
        assert await put(state, ring) == [503, 503, 503]  # every node timed out: the request's doing
    assert limited(state, ring) == [False, False, False]


async def test_a_node_that_cannot_be_reached_counts_at_once(nodes: list[FakeNode], state: FakeState) -> None:
    for fake in nodes:
        fake.status = 500
    ring = FakeRing([device(closed_port(), "dead"), *ring_of(nodes).primaries[1:]])
    for _ in range(LIMIT):
        await put(state, ring)
    assert limited(state, ring) == [True, False, False]


async def test_507_limits_at_once(nodes: list[FakeNode], state: FakeState) -> None:
    nodes[0].status = 507
    ring = ring_of(nodes)
    await get(state, ring)
    assert limited(state, ring) == [True, False, False]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_head_counts_failures_as_a_get_does(nodes: list[FakeNode], state: FakeState, method: str) -> None:
    # A HEAD goes by the whole-answer client, a GET by aiohttp's: the
    # limiter must see their failures the same way.
    nodes[1].status = 503
    nodes[2].status = 200
    ring = FakeRing([device(closed_port(), "dead"), *ring_of(nodes).primaries[1:]])
    for _ in range(LIMIT):
        assert await get(state, ring, method) == [503, 503, 200]
    assert limited(state, ring) == [True, True, False]


async def test_a_head_answer_comes_back_whole(nodes: list[FakeNode], state: FakeState) -> None:
    answer = await read_first(state, ring_of(nodes), 0, "HEAD", PATH, {})  # type: ignore[arg-type]
    response = answer.response
    assert isinstance(response, HeadAnswer)
    assert (response.status, response.headers["X-Timestamp"], response.method) == (201, "1700000000.00000", "HEAD")
    assert await response.read() == b"" and response.content.at_eof()
    response.release()
