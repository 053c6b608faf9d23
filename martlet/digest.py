"""Checking a whole body against its ETag while it streams.

Both the storage daemon (reading from disk) and the proxy (relaying a
backend's answer) send a body chunk by chunk and must never send the last
chunk of a body whose md5 is not its ETag: a client that received the whole
body cannot tell it was corrupt, while one cut short will retry.
"""

from __future__ import annotations

import hashlib

# The md5 of no bytes: the ETag of every empty body (a symlink, an expirer task row).
EMPTY_MD5 = hashlib.md5(b"", usedforsecurity=False).hexdigest()


class BodyDigest:
    """md5 of a body of known ``length`` as it streams.

    ``check`` each chunk *before* sending it: it returns the reason when that
    chunk would complete (or overrun) a body that does not match ``etag``,
    else None.
    """

    def __init__(self, etag: str, length: int) -> None:
        self.etag = etag
        self.remaining = length
        self._md5 = hashlib.md5(usedforsecurity=False)

    def check(self, chunk: bytes | memoryview) -> str | None:
        self._md5.update(chunk)
        self.remaining -= len(chunk)
        if self.remaining < 0:
            return "body longer than its stated length"
        if self.remaining == 0 and self._md5.hexdigest() != self.etag:
            return "body does not match its ETag"
        return None
