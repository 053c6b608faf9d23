"""``martlet.body.next_piece`` on aiohttp's real readers: pieces are never
joined, chunk boundaries are skipped, and the shared empty-body reader ends
even after something else has read it to its end."""

from __future__ import annotations

import asyncio
from aiohttp import streams
from aiohttp.base_protocol import BaseProtocol

from martlet.body import iter_pieces, next_piece


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
