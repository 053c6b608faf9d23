"""``aws-chunked`` bodies signed chunk by chunk
(``x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD``).

The body is a run of ``<hex size>;chunk-signature=<sig>\\r\\n<data>\\r\\n``
ending with a zero-size chunk. Each chunk's signature chains on the one
before it (the first on the request's own, the seed):

    AWS4-HMAC-SHA256-PAYLOAD\\n<amz date>\\n<scope>\\n<previous signature>\\n
    <sha256 of nothing>\\n<sha256 of the chunk's data>

signed with the request's signing key. ``decode`` yields the data of each
chunk once its signature holds, one chunk behind, so the last data reaches
the object servers only after the final chunk's signature (and the total,
``x-amz-decoded-content-length``) held: a bad chunk leaves nothing stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Callable

from proxy.s3api.errors import S3Error
from proxy.s3api.sigv4 import EMPTY_SHA256

MAX_CHUNK = 16 * 1024 * 1024
MAX_HEADER_LINE = 4096
_HEADER = re.compile(rb"^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})$")


def chunk_string_to_sign(amz_date: str, scope: str, previous: str, data: bytes) -> str:
    return "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY_SHA256,
                      hashlib.sha256(data).hexdigest()])


def chunk_signature(key: bytes, amz_date: str, scope: str, previous: str, data: bytes) -> str:
    return hmac.new(key, chunk_string_to_sign(amz_date, scope, previous, data).encode(), hashlib.sha256).hexdigest()


class Reader:
    """Bytes of an async chunk stream, read by lines and by counts."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks
        self.buffer = bytearray()

    async def _fill(self) -> bool:
        try:
            self.buffer += await self.chunks.__anext__()
        except StopAsyncIteration:
            return False
        return True

    async def line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > MAX_HEADER_LINE or not await self._fill():
                raise S3Error("IncompleteBody", "The request body terminated unexpectedly", status=400)
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 2]  # not a copy of the rest, which may be most of a piece
        return line

    async def exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            if not await self._fill():
                raise S3Error("IncompleteBody", "The request body terminated unexpectedly", status=400)
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    async def chunk_header(self, pattern: re.Pattern[bytes]) -> tuple[int, re.Match[bytes]]:
        """The next chunk's size line, matched by ``pattern`` (its first
        group the hex size): ``(size, match)``."""
        match = pattern.match(await self.line())
        if match is None:
            raise S3Error("InvalidRequest", "Malformed aws-chunked chunk header")
        return int(match.group(1), 16), match

    async def chunk_data(self, size: int) -> bytes:
        """The ``size`` bytes of a chunk and the CRLF that ends them: the
        framing both kinds of aws-chunked body share."""
        if size > MAX_CHUNK:
            raise S3Error("InvalidRequest", f"An aws-chunked chunk is limited to {MAX_CHUNK} bytes")
        data = await self.exactly(size)
        if await self.exactly(2) != b"\r\n":
            raise S3Error("InvalidRequest", "Malformed aws-chunked chunk")
        return data


def decode(chunks: AsyncIterator[bytes], key: bytes, amz_date: str, scope: str, seed: str,
           decoded_length: int) -> AsyncIterator[bytes]:
    """The data of an aws-chunked body, each chunk's signature checked
    (``SignatureDoesNotMatch``), one chunk held back until the end."""
    return hold_last(_signed_frames(Reader(chunks), key, amz_date, scope, seed), decoded_length)


async def _signed_frames(reader: Reader, key: bytes, amz_date: str, scope: str,
                         previous: str) -> AsyncIterator[bytes]:
    """Each chunk's data, its signature (chained from ``previous``) checked;
    the zero-size chunk, signed too, ends them."""
    while True:
        size, match = await reader.chunk_header(_HEADER)
        data = await reader.chunk_data(size)
        expected = chunk_signature(key, amz_date, scope, previous, data)
        if not hmac.compare_digest(expected, match.group(2).decode("ascii")):
            raise S3Error("SignatureDoesNotMatch", "A chunk's signature does not match")
        previous = expected
        if size == 0:
            return
        yield data


async def hold_last(frames: AsyncIterator[bytes], decoded_length: int,
                    finish: Callable[[], None] | None = None) -> AsyncIterator[bytes]:
    """``frames``' data one chunk behind, so that the last reaches the object
    servers only once ``frames`` ended with its own checks passed, the
    total is ``x-amz-decoded-content-length`` and ``finish`` (a check that
    comes after the length's, as S3 orders them) passed: a bad body stores
    nothing."""
    held: bytes | None = None
    total = 0
    async for data in frames:
        total += len(data)
        if total > decoded_length:
            raise S3Error("InvalidRequest", "The body is longer than x-amz-decoded-content-length")
        if held is not None:
            yield held
        held = data
    if total != decoded_length:
        raise S3Error("IncompleteBody", "The body is shorter than x-amz-decoded-content-length", status=400)
    if finish is not None:
        finish()
    if held is not None:
        yield held
