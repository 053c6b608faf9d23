"""martlet.serve: what a client may take of a daemon (ClientLimits), and the
request parser every daemon uses, over real sockets on 127.0.0.1.

Nothing here depends on timing: the limits are small, every wait for the
server is bounded, and a check that something does *not* happen only looks
for a moment (a slow machine can make it pass wrongly, never fail wrongly).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import http_parser, web

from martlet.http import BACKEND_ONLY
from martlet.serve import ClientLimits, bind_socket, start_serving

WAIT = 10.0  # upper bound for anything the server must do
GLANCE = 0.3  # how long "does not happen" is watched


async def echo(request: web.Request) -> web.Response:
    text = f"{request.method} {request.rel_url.raw_path} {len(request.headers)}"
    return web.Response(body=text.encode("utf-8", "surrogateescape"))


Serve = Callable[..., Awaitable[int]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(limits: ClientLimits, backend_only: bool = False) -> int:
        app = web.Application()
        if backend_only:
            app[BACKEND_ONLY] = True
        app.router.add_route("*", "/{tail:.*}", echo)
        sock = bind_socket("127.0.0.1", 0, reuse_port=False)
        runners.append(await start_serving(app, sock, limits, shutdown_timeout=1.0))
        return int(sock.getsockname()[1])

    yield start
    for runner in runners:
        await runner.cleanup()


async def exchange(port: int, head: bytes) -> bytes:
    """Send ``head`` (a request line and headers, no final CRLF) and read
    until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + b"Connection: close\r\n\r\n")
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), WAIT)
    finally:
        writer.close()


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


async def test_unknown_methods_and_raw_utf8_reach_the_app(serve: Serve) -> None:
    port = await serve(ClientLimits())
    answer = await exchange(port, b"LICK /v1/a/\xe2\x98\x83/\xff HTTP/1.1\r\nHost: x\r\n")
    assert status(answer) == 200
    # the raw path keeps the undecodable byte as a surrogate escape
    assert answer.endswith("LICK /v1/a/\u2603/\udcff 2".encode("utf-8", "surrogateescape"))


@pytest.mark.skipif(http_parser.HttpRequestParserC is None, reason="aiohttp built without its C parser")
async def test_a_backend_only_app_is_parsed_by_llhttp(serve: Serve) -> None:
    """The storage daemon's app (BACKEND_ONLY) keeps aiohttp's C parser,
    which refuses what the Swift parser takes: a method outside its list,
    raw UTF-8 in the request line."""
    port = await serve(ClientLimits(), backend_only=True)
    assert status(await exchange(port, b"GET /sda/3/a HTTP/1.1\r\nHost: x\r\n")) == 200
    assert status(await exchange(port, b"REPLICATE /sda/3 HTTP/1.1\r\nHost: x\r\n")) == 400
    assert status(await exchange(port, b"LICK /v1/a/\xe2\x98\x83 HTTP/1.1\r\nHost: x\r\n")) == 400


async def test_header_line_size_limit(serve: Serve) -> None:
    port = await serve(ClientLimits(max_header_size=2048))
    line = b"X-Big: " + b"v" * (2048 - len(b"X-Big: "))
    assert status(await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n")) == 200
    assert status(await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + line + b"v\r\n")) == 400
    path = b"/" + b"p" * (2048 - len(b"GET / HTTP/1.1"))
    assert status(await exchange(port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n")) == 200
    assert status(await exchange(port, b"GET " + path + b"p HTTP/1.1\r\nHost: x\r\n")) == 400


async def test_header_count_limit(serve: Serve) -> None:
    port = await serve(ClientLimits(max_header_count=100))
    # Host and Connection, plus the X- headers
    fits = b"".join(b"X-H%d: v\r\n" % i for i in range(98))
    answer = await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + fits)
    assert status(answer) == 200 and answer.endswith(b" 100")
    assert status(await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + fits + b"X-One-More: v\r\n")) == 400


async def test_slow_headers_are_cut_off(serve: Serve) -> None:
    port = await serve(ClientLimits(client_timeout=0.2))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and then nothing
    await writer.drain()
    # the server closes the connection without an answer
    assert await asyncio.wait_for(reader.read(), WAIT) == b""
    writer.close()


async def test_idle_keep_alive_connection_is_closed(serve: Serve) -> None:
    port = await serve(ClientLimits(client_timeout=0.2))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert (await asyncio.wait_for(reader.readuntil(b"GET /one 1"), WAIT)).startswith(b"HTTP/1.1 200")
    assert await asyncio.wait_for(reader.read(), WAIT) == b""
    writer.close()


async def test_connections_beyond_max_clients_wait(serve: Serve) -> None:
    port = await serve(ClientLimits(max_clients=2))
    held = []
    for i in range(2):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"GET /held 1"), WAIT)
        held.append(writer)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)  # the kernel's backlog takes it
    writer.write(b"GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    waiting = asyncio.ensure_future(reader.read())
    done, _ = await asyncio.wait({waiting}, timeout=GLANCE)
    assert not done, "a third connection was served while two were open"
    held.pop().close()
    answer = await asyncio.wait_for(waiting, WAIT)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"GET /third 2")
    writer.close()
    for other in held:
        other.close()


async def test_a_request_is_answered_before_what_follows_is_parsed(serve: Serve) -> None:
    """A PUT without a length whose body follows anyway (bytes that are no
    request: here a bare LF) still gets its own answer first."""
    port = await serve(ClientLimits())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"PUT /first HTTP/1.1\r\nHost: x\r\n\r\nnot\na request\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), WAIT)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200") and b"PUT /first 1" in answer
    assert b" 400 Bad Request" in answer  # then the rest, for what it is
