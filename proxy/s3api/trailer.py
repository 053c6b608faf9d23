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
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from martlet.digest import Crc32
from proxy.s3api.chunked import Reader, hold_last
from proxy.s3api.errors import S3Error

UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_SIZE = re.compile(rb"^([0-9a-fA-F]{1,16})(;.*)?$")
MAX_TRAILER_LINES = 8


class Checksum(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


# x-amz-trailer value -> a fresh checksum of that kind.
CHECKSUMS: dict[str, Callable[[], Checksum]] = {
    "x-amz-checksum-crc32": Crc32,
    "x-amz-checksum-sha1": hashlib.sha1,
    "x-amz-checksum-sha256": hashlib.sha256,
}


def checksum_name(trailer: str | None) -> str:
    """The ``x-amz-trailer`` of a trailer upload, checked."""
    name = (trailer or "").strip().lower()
    if name not in CHECKSUMS:
        raise S3Error("InvalidRequest", f"The value specified in the x-amz-trailer header is not supported: "
                      f"{trailer or ''}".rstrip(": "))
    return name


def decode(chunks: AsyncIterator[bytes], trailer: str, decoded_length: int,
           checked: dict[str, str]) -> AsyncIterator[bytes]:
    """The data of an unsigned aws-chunked body, its trailing checksum
    ``trailer`` checked (``BadDigest``); the checksum, once it held, is
    put in ``checked`` (name -> base64 value) for the answer. A body
    shorter than announced is ``IncompleteBody`` before its checksum is
    compared."""
    ends: dict[str, str] = {}  # "sent" and "computed", once the trailer is read

    def verify() -> None:
        if ends["sent"] != ends["computed"]:
            algorithm = trailer.rsplit("-", 1)[-1].upper()
            raise S3Error("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
        checked[trailer] = ends["computed"]

    return hold_last(_frames(Reader(chunks), trailer, ends), decoded_length, verify)


async def _frames(reader: Reader, trailer: str, ends: dict[str, str]) -> AsyncIterator[bytes]:
    """Each chunk's data; at the end the trailer's value and the checksum
    computed go in ``ends``."""
    checksum = CHECKSUMS[trailer]()
    while size := (await reader.chunk_header(_SIZE))[0]:  # size 0: the trailer follows, not a CRLF
        data = await reader.chunk_data(size)
        checksum.update(data)
        yield data
    ends["sent"] = await _trailer_value(reader, trailer)
    ends["computed"] = base64.b64encode(checksum.digest()).decode("ascii")


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
