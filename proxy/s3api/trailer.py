"""``aws-chunked`` bodies with a trailing checksum and unsigned chunks
(``x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER``), which
botocore and the AWS SDKs send with flexible checksums.

The body is a run of ``<hex size>\\r\\n<data>\\r\\n``, a zero-size chunk,
then the trailer the ``x-amz-trailer`` header named (``x-amz-checksum-
crc32:<base64>``) and an empty line. ``decode`` yields the data one chunk
behind, so the last data reaches the object servers only once the
checksum and the total (``x-amz-decoded-content-length``) held: a bad
body leaves nothing stored. The checksums the standard library computes
are taken (CRC32, SHA-1, SHA-256); another (CRC32C, CRC64NVME) is
``InvalidRequest`` before any byte is read.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import AsyncIterator, Callable

from proxy.s3api.chunked import Reader
from proxy.s3api.errors import S3Error

UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_SIZE = re.compile(rb"^([0-9a-fA-F]{1,16})(;.*)?$")
MAX_TRAILER_LINES = 8


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


class _Hashlib:
    def __init__(self, name: str) -> None:
        self.hash = hashlib.new(name)

    def update(self, data: bytes) -> None:
        self.hash.update(data)

    def digest(self) -> bytes:
        return self.hash.digest()


# x-amz-trailer value -> a fresh checksum of that kind.
CHECKSUMS: dict[str, Callable[[], _Crc32 | _Hashlib]] = {
    "x-amz-checksum-crc32": _Crc32,
    "x-amz-checksum-sha1": lambda: _Hashlib("sha1"),
    "x-amz-checksum-sha256": lambda: _Hashlib("sha256"),
}


def checksum_name(trailer: str | None) -> str:
    """The ``x-amz-trailer`` of a trailer upload, checked."""
    name = (trailer or "").strip().lower()
    if name not in CHECKSUMS:
        raise S3Error("InvalidRequest", f"The value specified in the x-amz-trailer header is not supported: "
                      f"{trailer or ''}".rstrip(": "))
    return name


async def decode(chunks: AsyncIterator[bytes], trailer: str, decoded_length: int,
                 checked: dict[str, str]) -> AsyncIterator[bytes]:
    """The data of an unsigned aws-chunked body, its trailing checksum
    ``trailer`` checked (``BadDigest``); the checksum, once it held, is
    put in ``checked`` (name -> base64 value) for the answer."""
    reader = Reader(chunks)
    checksum = CHECKSUMS[trailer]()
    held: bytes | None = None
    total = 0
    while True:
        match = _SIZE.match(await reader.line())
        if match is None:
            raise S3Error("InvalidRequest", "Malformed aws-chunked chunk header")
        size = int(match.group(1), 16)
        if size == 0:  # the trailer follows, not a CRLF
            break
        data = await reader.chunk_data(size)
        total += size
        if total > decoded_length:
            raise S3Error("InvalidRequest", "The body is longer than x-amz-decoded-content-length")
        checksum.update(data)
        if held is not None:
            yield held
        held = data
    sent = await _trailer_value(reader, trailer)
    if total != decoded_length:
        raise S3Error("IncompleteBody", "The body is shorter than x-amz-decoded-content-length", status=400)
    computed = base64.b64encode(checksum.digest()).decode("ascii")
    if sent != computed:
        algorithm = trailer.rsplit("-", 1)[-1].upper()
        raise S3Error("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
    checked[trailer] = computed
    if held is not None:
        yield held


async def _trailer_value(reader: Reader, trailer: str) -> str:
    """The value of the trailer named ``trailer`` (the lines up to the empty one)."""
    found: str | None = None
    for _ in range(MAX_TRAILER_LINES):
        line = await reader.line()
        if not line:
            if found is None:
                raise S3Error("InvalidRequest", f"The trailer {trailer} is missing")
            return found
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == trailer:
            found = value.strip()
    raise S3Error("InvalidRequest", "Malformed aws-chunked trailer")
