"""The whole-answer backend client: its pure framing rules, and exchanges
with real servers on 127.0.0.1 (aiohttp apps checking the signature like a
storage daemon, and raw asyncio servers misbehaving in set ways)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from martlet.backend import BackendTimeouts, backend_path
from martlet.backend_auth import BackendKey, checking_middleware
from martlet.backend_client import (
    BackendConnectError,
    BadAnswer,
    WholeAnswerClient,
    _serialize,
    parse_head,
    take_chunks,
)
from martlet.http import BACKEND_ONLY, STANDARD_MIDDLEWARES, TRANS_ID_HEADER
from martlet.logs import trans_id_var
from tests.waiting import until

KEY = BackendKey.from_secret("cluster secret")
FAST = BackendTimeouts(conn_timeout=1.0, node_timeout=0.5)


# -- pure framing


def test_a_head_gives_status_headers_and_framing() -> None:
    parsed = parse_head(b"HTTP/1.1 201 Created\r\nEtag: abc\r\nX-Meta: 1\r\nx-meta: 2\r\nContent-Length: 5", "PUT")
    assert (parsed.status, parsed.keep_alive, parsed.length, parsed.chunked) == (201, True, 5, False)
    assert parsed.headers["ETAG"] == "abc" and parsed.headers.getall("X-Meta") == ["1", "2"]


@pytest.mark.parametrize(
    "head, method, keep_alive, length, chunked",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10", "HEAD", True, 0, False),  # HEAD: never a body
        (b"HTTP/1.1 204 No Content", "DELETE", True, 0, False),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 3", "GET", True, 0, False),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", "GET", True, None, True),
        (b"HTTP/1.1 200 OK", "GET", False, None, False),  # until the server closes
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0", "GET", False, 0, False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0", "GET", False, 0, False),
    ],
)
def test_how_an_answer_is_framed(head: bytes, method: str, keep_alive: bool, length: int | None,
                                 chunked: bool) -> None:
    parsed = parse_head(head, method)
    assert (parsed.keep_alive, parsed.length, parsed.chunked) == (keep_alive, length, chunked)


@pytest.mark.parametrize(
    "head",
    [b"SIP/2.0 200 OK", b"HTTP/1.1 2x0 OK", b"HTTP/1.1 200 OK\r\nno colon here",
     b"HTTP/1.1 200 OK\r\n Folded: x", b"HTTP/1.1 200 OK\r\nContent-Length: -1"],
)
def test_a_head_that_is_not_http_is_a_bad_answer(head: bytes) -> None:
    with pytest.raises(BadAnswer):
        parse_head(head, "GET")


def test_chunks_are_taken_however_the_bytes_arrive() -> None:
    wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    buffer, body = bytearray(), bytearray()
    results = []
    for byte in wire:  # one byte at a time: every split point
        buffer.append(byte)
        results.append(take_chunks(buffer, body))
    assert results[-1] is True and all(r is None for r in results[:-1])
    assert bytes(body) == b"hello world" and buffer == b""


def test_a_last_chunk_without_trailers_ends_the_body() -> None:
    buffer, body = bytearray(b"3\r\nabc\r\n0\r\n\r\n"), bytearray()
    assert take_chunks(buffer, body) is True and bytes(body) == b"abc"


@pytest.mark.parametrize("wire", [b"zz\r\nabc\r\n", b"3\r\nabcXY0\r\n\r\n", b"1" * 2000])
def test_bad_chunk_framing_is_a_bad_answer(wire: bytes) -> None:
    with pytest.raises(BadAnswer):
        take_chunks(bytearray(wire), bytearray())


def test_a_request_is_written_as_aiohttp_writes_it() -> None:
    wire = _serialize("PUT", "/d1/3/a/c/o", "127.0.0.1:6010", {"X-Timestamp": "1.00000", "X-Object-Meta-N": "é"},
                      b"body")
    assert wire == ("PUT /d1/3/a/c/o HTTP/1.1\r\nX-Timestamp: 1.00000\r\nX-Object-Meta-N: é\r\n"
                    "Host: 127.0.0.1:6010\r\nContent-Length: 4\r\n\r\n").encode() + b"body"
    # A bodiless write says its length is 0; a read says none; a given length is kept.
    assert b"Content-Length: 0\r\n" in _serialize("DELETE", "/x", "h:1", {}, None)
    assert b"Content-Length" not in _serialize("HEAD", "/x", "h:1", {}, None)
    assert _serialize("PUT", "/x", "h:1", {"content-length": "2"}, b"ab").count(b"ength: 2") == 1
    # One name in two cases is sent once, the last value winning (aiohttp's CIMultiDict does so).
    twice = _serialize("PUT", "/x", "h:1", {"content-type": "a/b", "X-A": "1", "Content-Type": "c/d"}, None)
    assert twice.lower().count(b"content-type") == 1 and b"c/d" in twice and b"a/b" not in twice


@pytest.mark.parametrize(
    "headers, body",
    [({"X-Object-Meta-A": "x\r\nX-Injected: 1"}, None), ({"X-Bad\n": "v"}, None), ({"Content-Length": "3"}, b"ab")],
)
def test_a_request_that_would_inject_or_lie_is_refused(headers: dict[str, str], body: bytes | None) -> None:
    with pytest.raises(ValueError):
        _serialize("PUT", "/x", "h:1", headers, body)


# -- exchanges with real servers


@dataclass
class SignedNode:
    """An aiohttp app that checks signatures as a storage daemon does and
    remembers what it was sent and over which connections."""

    status: int = 201
    gate: asyncio.Event | None = None  # when set up, each request waits for it before answering
    peers: set[tuple[str, int]] = field(default_factory=set)
    seen: list[web.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    chunked: bool = False
    running: int = 0
    most_running: int = 0
    port: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            self.peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
            self.seen.append(request)
            self.bodies.append(await request.read())
            if self.gate is not None:
                await self.gate.wait()
            headers = {"X-Timestamp": "1700000000.00000", "Etag": "e1"}
            if self.chunked:
                response = web.StreamResponse(status=self.status, headers=headers)
                response.enable_chunked_encoding()
                await response.prepare(request)
                for piece in (b"one ", b"two ", b"three"):
                    await response.write(piece)
                await response.write_eof()
                return response
            return web.Response(status=self.status, headers=headers, body=b"answer")
        finally:
            self.running -= 1


@pytest.fixture
async def node() -> AsyncIterator[SignedNode]:
    served = SignedNode()
    app = web.Application(middlewares=[*STANDARD_MIDDLEWARES, checking_middleware(KEY)])
    app[BACKEND_ONLY] = True  # as the storage daemon: a POST marked REPLICATE is checked as REPLICATE
    app.router.add_route("*", "/{tail:.*}", served.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    served.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield served
    await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[WholeAnswerClient]:
    async with WholeAnswerClient(KEY, FAST) as made:
        yield made


async def test_a_signed_request_gets_its_whole_answer(node: SignedNode, client: WholeAnswerClient) -> None:
    trans_id_var.set("tx-client-test")
    path = backend_path("d1", 3, "AUTH_a", "c", "o x/y")
    answer = await client.request("127.0.0.1", node.port, "PUT", path, headers={"X-Timestamp": "1.00000"},
                                  query={"multipart-manifest": "put"}, body=b"payload")
    assert (answer.status, answer.headers["etag"], answer.body) == (201, "e1", b"answer")
    [request] = node.seen
    # The checking middleware let it through: path, query and method were signed as sent.
    assert request.method == "PUT" and request.rel_url.raw_path == path
    assert request.query["multipart-manifest"] == "put" and node.bodies == [b"payload"]
    assert request.headers[TRANS_ID_HEADER] == "tx-client-test"


async def test_an_unsigned_or_wrongly_signed_request_is_refused(node: SignedNode) -> None:
    async with WholeAnswerClient(BackendKey.from_secret("another cluster"), FAST) as other:
        answer = await other.request("127.0.0.1", node.port, "DELETE", "/d1/3/a/c/o")
    assert answer.status == 401 and node.seen == []


async def test_a_node_named_by_host_name_is_reached(node: SignedNode, client: WholeAnswerClient) -> None:
    """As the compose cluster's rings name nodes (``storageN``): the name is
    resolved (martlet.resolver) and its addresses tried in order, so
    "localhost" reaches the node on 127.0.0.1 even where it means ::1 first.
    The Host header keeps the name."""
    answer = await client.request("localhost", node.port, "DELETE", "/d1/3/a/c/o")
    assert answer.status == 201 and node.seen[0].headers["Host"] == f"localhost:{node.port}"


async def test_a_replicate_goes_as_a_post(node: SignedNode, client: WholeAnswerClient) -> None:
    answer = await client.request("127.0.0.1", node.port, "REPLICATE", "/d1/3")
    assert answer.status == 201 and node.seen[0].method == "POST"


async def test_connections_are_kept_and_reused(node: SignedNode, client: WholeAnswerClient) -> None:
    for _ in range(5):
        assert (await client.request("127.0.0.1", node.port, "DELETE", "/d1/3/a/c/o")).status == 201
    assert len(node.peers) == 1


async def test_at_most_per_host_requests_run_at_once(node: SignedNode) -> None:
    node.gate = asyncio.Event()
    async with WholeAnswerClient(KEY, FAST, per_host=2) as limited:
        sent = asyncio.gather(*(limited.request("127.0.0.1", node.port, "DELETE", f"/d1/3/a/c/o{i}")
                                for i in range(6)))
        await until(lambda: node.running >= 2)  # held there: without the bound, all six would be
        node.gate.set()
        answers = await sent
    assert [a.status for a in answers] == [201] * 6
    assert node.most_running == 2 and len(node.peers) == 2


async def test_a_chunked_answer_is_joined(node: SignedNode, client: WholeAnswerClient) -> None:
    node.chunked = True
    answer = await client.request("127.0.0.1", node.port, "POST", "/d1/3/a/c/o")
    assert answer.body == b"one two three"
    assert (await client.request("127.0.0.1", node.port, "POST", "/d1/3/a/c/o")).body == b"one two three"
    assert len(node.peers) == 1  # the connection stayed usable after the last chunk


async def test_a_silent_node_times_out_and_its_connection_is_dropped(node: SignedNode,
                                                                     client: WholeAnswerClient) -> None:
    node.gate = asyncio.Event()  # no answer until the client has given up
    with pytest.raises(TimeoutError):
        await client.request("127.0.0.1", node.port, "DELETE", "/d1/3/a/c/o", timeout=0.1)
    node.gate.set()
    # The late answer of the first request must not be taken for the next one's.
    assert (await client.request("127.0.0.1", node.port, "DELETE", "/d1/3/a/c/o2")).status == 201
    assert len(node.peers) == 2


async def test_a_cancelled_request_drops_its_connection(node: SignedNode, client: WholeAnswerClient) -> None:
    node.gate = asyncio.Event()
    task = asyncio.ensure_future(client.request("127.0.0.1", node.port, "DELETE", "/d1/3/a/c/o"))
    await until(lambda: node.seen)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    node.gate.set()  # its answer now goes out on a connection the client dropped
    assert (await client.request("127.0.0.1", node.port, "DELETE", "/d1/3/a/c/o2")).status == 201
    assert len(node.peers) == 2


async def test_an_unreachable_node_is_a_connect_error(client: WholeAnswerClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(BackendConnectError):
            await client.request("127.0.0.1", port, "DELETE", "/d1/3/a/c/o")


# -- raw servers that answer in set ways

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
# Starts a server running a script per connection: its port, and its connections so far.
StartRaw = Callable[[Script], Awaitable[tuple[int, list[int]]]]


def replying(wire: bytes) -> Script:
    """A script answering a connection's request with ``wire``, then closing."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        await _read_request(reader)
        writer.write(wire)
        await writer.drain()

    return reply


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


@pytest.fixture
async def raw() -> AsyncIterator[StartRaw]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> tuple[int, list[int]]:
        connections: list[int] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(len(connections))
            try:
                await script(reader, writer, len(connections))
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(server)
        return server.sockets[0].getsockname()[1], connections

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_a_keepalive_connection_closed_by_the_server_is_retried_once_afresh(
    raw: StartRaw, client: WholeAnswerClient
) -> None:
    async def one_answer_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        await _read_request(reader)  # the next request on this connection: closed unanswered

    port, connections = await raw(one_answer_per_connection)
    assert (await client.request("127.0.0.1", port, "DELETE", "/d1/3/a/c/o")).status == 204
    assert (await client.request("127.0.0.1", port, "DELETE", "/d1/3/a/c/o")).status == 204
    assert len(connections) == 2


async def test_a_connection_cut_inside_an_answer_is_not_retried(
    raw: StartRaw, client: WholeAnswerClient
) -> None:
    port, connections = await raw(replying(b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\nabc"))
    with pytest.raises(ConnectionError):
        await client.request("127.0.0.1", port, "PUT", "/d1/3/a/c/o", body=b"x")
    assert len(connections) == 1


async def test_interim_answers_are_skipped_and_a_body_may_run_to_the_close(
    raw: StartRaw, client: WholeAnswerClient
) -> None:
    port, connections = await raw(replying(b"HTTP/1.1 100 Continue\r\n\r\n"
                                           b"HTTP/1.1 200 OK\r\nX-A: b\r\n\r\nuntil the end"))
    for _ in range(2):
        answer = await client.request("127.0.0.1", port, "POST", "/d1/3/a/c/o")
        assert (answer.status, answer.headers["X-A"], answer.body) == (200, "b", b"until the end")
    assert len(connections) == 2  # such a connection is never reused


async def test_garbage_is_a_bad_answer_and_bytes_after_an_answer_end_the_connection(
    raw: StartRaw, client: WholeAnswerClient
) -> None:
    async def garbage_then_extra(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        if n == 1:
            writer.write(b"not http at all\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")
        await writer.drain()
        await reader.read()

    port, connections = await raw(garbage_then_extra)
    with pytest.raises(BadAnswer):
        await client.request("127.0.0.1", port, "DELETE", "/d1/3/a/c/o")
    assert (await client.request("127.0.0.1", port, "DELETE", "/d1/3/a/c/o")).status == 204
    assert (await client.request("127.0.0.1", port, "DELETE", "/d1/3/a/c/o")).status == 204
    assert len(connections) == 3
