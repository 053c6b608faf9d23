"""A signed payload's check: the body's sha256 against the signed
``x-amz-content-sha256``, computed as the body passes.

The last chunk is held back until the whole body has been hashed, so a
body that does not match never reaches the object servers whole: the
write fails (400 XAmzContentSHA256Mismatch) before anything is committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from proxy.s3api.errors import S3Error


async def verified(chunks: AsyncIterator[bytes], expected_hex: str) -> AsyncIterator[bytes]:
    """``chunks``, each passed on once the next one has arrived; the last
    only when the whole body's sha256 is ``expected_hex``."""
    digest = hashlib.sha256()
    held: bytes | None = None
    async for chunk in chunks:
        if not chunk:
            continue
        digest.update(chunk)
        if held is not None:
            yield held
        held = chunk
    if digest.hexdigest() != expected_hex:
        raise S3Error("XAmzContentSHA256Mismatch",
                      extra={"ClientComputedContentSHA256": expected_hex,
                             "S3ComputedContentSHA256": digest.hexdigest()})
    if held is not None:
        yield held
