"""Quarantine: moving an object that cannot be trusted out of ``objects/``.

Who quarantines: the auditor (re-reading every object at a rate limit) and
the object server's GET (checking the md5 as it streams a whole body). Both
move the whole hash directory to ``<dev>/quarantined/objects/<hash>`` (a
unique name if that is taken) and mark its suffix dirty, so that the next
REPLICATE sees the object missing here and a peer's replicator pushes a good
copy back. The bytes are kept, not deleted, for an operator to look at.

A GET that finds a mismatch has already sent its status line; the only
honest signal left is to cut the connection before the last chunk, so the
client sees a short body and never a clean success (``BodyMismatch``).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from martlet.digest import BodyDigest
from storage.diskfile import invalidate_suffix
from storage.layout import DeviceLayout
from storage.metadata import ObjectMetadata

log = logging.getLogger(__name__)


class BodyMismatch(ConnectionResetError):
    """The bytes read do not match the stored ETag or length.

    A ``ConnectionResetError`` so that a server that does not catch it still
    cuts the connection rather than completing the response.
    """


def quarantine_hash_dir(hash_dir: Path, reason: str = "", bad_file: str | None = None) -> Path | None:
    """Blocking: move ``<dev>/objects/<part>/<suffix>/<hash>`` aside.

    With ``bad_file``, only if that file is still there: a fresh write that
    replaced it meanwhile is never moved aside. Returns where it went, or
    None when nothing was moved.
    """
    if bad_file is not None:
        try:
            if bad_file not in os.listdir(hash_dir):
                return None
        except FileNotFoundError:
            return None
    suffix_dir = hash_dir.parent
    part_dir = suffix_dir.parent
    kind_dir = part_dir.parent  # objects/ (objects-N/ for policy N)
    target_dir = DeviceLayout(kind_dir.parent).quarantined(kind_dir.name)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / hash_dir.name
    if target.exists():
        target = target_dir / f"{hash_dir.name}-{uuid.uuid4().hex}"
    try:
        os.rename(hash_dir, target)
    except FileNotFoundError:
        return None
    invalidate_suffix(part_dir, suffix_dir.name)
    log.warning("quarantined", extra={"hash_dir": str(hash_dir), "to": str(target), "reason": reason})
    return target


class BodyVerifier(BodyDigest):
    """A ``BodyDigest`` over an object's stored ETag and length.

    ``feed`` each chunk *before* sending it; it raises ``BodyMismatch`` when
    the chunk would complete (or overrun) a corrupt body.
    """

    def feed(self, data: bytes | memoryview) -> None:
        problem = self.check(data)
        if problem is not None:
            raise BodyMismatch(f"object {problem}")


def whole_body_verifier(
    method: str, meta: ObjectMetadata | None, parts: Sequence[tuple[int, int, bytes | None]]
) -> BodyVerifier | None:
    """A verifier when a GET sends the whole body of ``meta``'s .data in one
    part, else None (a range cannot be checked against a checksum of the
    whole). It checks the stored CRC-32 when there is one (objects written
    before it was stored have only their md5)."""
    if method != "GET" or meta is None or meta.etag is None or meta.content_length is None or len(parts) != 1:
        return None
    start, end, prefix = parts[0]
    if start != 0 or end != meta.content_length or prefix:
        return None
    return BodyVerifier(meta.etag, meta.content_length, meta.crc32)
