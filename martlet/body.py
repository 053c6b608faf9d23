"""Reading a request body from a client that may stall or vanish.

Every server reads bodies the same way: one chunk at a time, each read bounded
by the client timeout. A client that sends nothing for that long gets 408
(Swift's answer to a stalled upload); one that disconnects or sends less than
it announced is a 499 (nobody is left to read it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from martlet.errors import ClientDisconnect, RequestTimeout

# What aiohttp raises when the client's side of a body goes wrong.
_BODY_ERRORS = (ConnectionError, asyncio.IncompleteReadError, aiohttp.ClientPayloadError, web.HTTPException)


async def read_chunk(request: web.Request, timeout: float, size: int = -1) -> bytes:
    """The next piece of the body (``b""`` at its end); at most ``size`` bytes if given.

    ``size=-1`` returns whatever has arrived (``readany``), which avoids
    re-buffering when the caller writes to disk in its own block size.
    """
    try:
        async with asyncio.timeout(timeout):
            if size < 0:
                return await request.content.readany()
            return await request.content.read(size)
    except TimeoutError:
        raise RequestTimeout("client sent no data for too long") from None
    except _BODY_ERRORS as exc:
        raise ClientDisconnect(f"client read failed: {type(exc).__name__}") from None


async def read_piece(request: web.Request, timeout: float) -> bytes:
    """The next piece of the body as the network gave it (``b""`` at its
    end). Unlike ``readany`` it never joins the pieces already buffered: a
    caller that gathers them itself (a ``writev``) saves that copy."""
    try:
        async with asyncio.timeout(timeout):
            return await next_piece(request.content)
    except TimeoutError:
        raise RequestTimeout("client sent no data for too long") from None
    except _BODY_ERRORS as exc:
        raise ClientDisconnect(f"client read failed: {type(exc).__name__}") from None


async def next_piece(content: aiohttp.StreamReader) -> bytes:
    """The next non-empty piece of ``content`` as the network gave it, or
    ``b""`` at its end.

    ``readchunk`` also answers ``(b"", True)`` at each boundary of a chunked
    body, and aiohttp's one shared empty-body reader answers that for ever
    once any body without bytes has been read to its end: the end is asked
    of ``at_eof``, else a loop on ``readchunk`` never ends nor yields."""
    while True:
        data, _ = await content.readchunk()
        if data or content.at_eof():
            return data


async def iter_pieces(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """Each piece of ``content`` as the network gave it (never joined, unlike
    ``iter_chunked``/``readany``, which copy the pieces buffered meanwhile)."""
    while piece := await next_piece(content):
        yield piece


async def no_body() -> AsyncIterator[bytes]:
    """The body of a zero-byte write a feature makes (a delete marker, a
    version's placeholder): an async iterator of nothing."""
    return
    yield b""  # pragma: no cover - makes this an async generator


async def read_exactly(request: web.Request, timeout: float, size: int) -> bytes:
    """Exactly ``size`` bytes of the body; fewer is a 499."""
    if size == 0:
        return b""  # aiohttp's reader of an empty body refuses even 0 bytes
    try:
        async with asyncio.timeout(timeout):
            return await request.content.readexactly(size)
    except TimeoutError:
        raise RequestTimeout("client sent no data for too long") from None
    except _BODY_ERRORS as exc:
        raise ClientDisconnect(f"client read failed: {type(exc).__name__}") from None


async def iter_body(request: web.Request, timeout: float, size: int = -1) -> AsyncIterator[bytes]:
    """The body in chunks until its end (see ``read_chunk``)."""
    while chunk := await read_chunk(request, timeout, size):
        yield chunk


async def read_limited(request: web.Request, timeout: float, limit: int) -> bytes | None:
    """The whole body if it is at most ``limit`` bytes, else None (the caller's 413)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    data = bytearray()
    async for chunk in iter_body(request, timeout, 65536):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)
