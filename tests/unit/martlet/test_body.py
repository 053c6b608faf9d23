"""``martlet.body.next_piece`` on aiohttp's real readers: pieces are never
joined, chunk boundaries are skipped, and the shared empty-body reader ends
even after something else has read it to its end."""

from __future__ import annotations

import asyncio
from unittest import mock

from aiohttp import streams
from aiohttp.base_protocol import BaseProtocol
from aiohttp.test_utils import make_mocked_request

from martlet.body import iter_pieces, next_piece, read_limited


def reader(*pieces: bytes, chunked: bool = False) -> streams.StreamReader:
    loop = asyncio.get_running_loop()
    content = streams.StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    for piece in pieces:
        if chunked:
            content.begin_http_chunk_receiving()
        content.feed_data(piece)
        if chunked:
            content.end_http_chunk_receiving()
    content.feed_eof()
    return content


async def test_pieces_as_fed_never_joined() -> None:
    assert [p async for p in iter_pieces(reader(b"ab", b"cde", b"f"))] == [b"ab", b"cde", b"f"]


async def test_chunk_boundaries_are_not_the_end() -> None:
    assert [p async for p in iter_pieces(reader(b"ab", b"cd", chunked=True))] == [b"ab", b"cd"]


async def test_shared_empty_reader_ends_every_time() -> None:
    for _ in range(3):  # the first read sets its state for every later one
        assert await asyncio.wait_for(next_piece(streams.EMPTY_PAYLOAD), 5) == b""


async def test_read_limited_waits_for_pieces_still_to_come() -> None:
    """A body whose second piece arrives after the read began is read whole
    (S3's XML bodies: ``content.read(n)`` would answer the first piece alone)."""
    loop = asyncio.get_running_loop()
    protocol = BaseProtocol(loop)
    protocol.connection_made(mock.Mock())  # a live connection: the reader may wait on it
    content = streams.StreamReader(protocol, 2**16, loop=loop)
    content.feed_data(b"<Delete>")

    def rest() -> None:
        content.feed_data(b"</Delete>")
        content.feed_eof()

    loop.call_later(0.01, rest)
    request = make_mocked_request("POST", "/", headers={"Content-Length": "17"}, payload=content)
    assert await read_limited(request, 5.0, 100) == b"<Delete></Delete>"
    too_long = streams.StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    too_long.feed_data(b"x" * 101)
    too_long.feed_eof()
    assert await read_limited(make_mocked_request("POST", "/", payload=too_long), 5.0, 100) is None
