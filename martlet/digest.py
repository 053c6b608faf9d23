"""Checking a whole body against its ETag while it streams.

Both the storage daemon (reading from disk) and the proxy (relaying a
backend's answer) send a body chunk by chunk and must never send the last
chunk of a body whose md5 is not its ETag: a client that received the whole
body cannot tell it was corrupt, while one cut short will retry.
"""

from __future__ import annotations

import hashlib
import zlib

# The md5 of no bytes: the ETag of every empty body (a symlink, an expirer task row).
EMPTY_MD5 = hashlib.md5(b"", usedforsecurity=False).hexdigest()


class Crc32:
    """A running CRC-32 with hashlib's ``update``/``digest`` shape (S3's
    checksum trailers; the proxy's check of a resumed GET's bytes)."""

    def __init__(self) -> None:
        self.crc = 0

    def update(self, data: bytes | memoryview) -> None:
        self.crc = zlib.crc32(data, self.crc)

    def digest(self) -> bytes:
        return self.crc.to_bytes(4, "big")


class BodyDigest:
    """The checksum of a body of known ``length`` as it streams.

    ``check`` each chunk *before* sending it: it returns the reason when that
    chunk would complete (or overrun) a body that does not match, else None.
    With ``crc32`` (the CRC-32 the storage daemon stored beside a body it
    wrote) that is checked; else the md5 against ``etag``. Both catch a
    body changed on disk; CRC-32 costs an eighth of md5's CPU (0.15 against
    1.2 ms per MiB here), which is most of a large GET's cost on a node.
    """

    def __init__(self, etag: str, length: int, crc32: int | None = None) -> None:
        self.etag = etag
        self.crc32 = crc32
        self.remaining = length
        self._md5 = hashlib.md5(usedforsecurity=False) if crc32 is None else None
        self._crc = Crc32()

    def check(self, chunk: bytes | memoryview) -> str | None:
        if self._md5 is None:
            self._crc.update(chunk)
        else:
            self._md5.update(chunk)
        self.remaining -= len(chunk)
        if self.remaining < 0:
            return "body longer than its stated length"
        if self.remaining == 0 and not self._matches():
            return f"body does not match its {'ETag' if self._md5 is not None else 'CRC-32'}"
        return None

    def _matches(self) -> bool:
        if self._md5 is None:
            return self._crc.crc == self.crc32
        return self._md5.hexdigest() == self.etag
