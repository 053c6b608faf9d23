"""BodyDigest: the whole-body check a GET makes before sending its last chunk."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from martlet.digest import BodyDigest, Crc32

BODY = bytes(range(256)) * 40
ETAG = hashlib.md5(BODY).hexdigest()


@pytest.mark.parametrize("crc32", [None, zlib.crc32(BODY)], ids=["md5", "crc32"])
def test_a_sound_body_passes_chunk_by_chunk(crc32: int | None) -> None:
    digest = BodyDigest(ETAG, len(BODY), crc32)
    assert [digest.check(BODY[i:i + 1000]) for i in range(0, len(BODY), 1000)] == [None] * 11


@pytest.mark.parametrize("crc32", [None, zlib.crc32(BODY)], ids=["md5", "crc32"])
def test_a_changed_body_fails_on_its_last_chunk(crc32: int | None) -> None:
    changed = b"X" + BODY[1:]
    digest = BodyDigest(ETAG, len(BODY), crc32)
    assert digest.check(changed[:5000]) is None
    reason = digest.check(changed[5000:])
    assert reason == ("body does not match its ETag" if crc32 is None else "body does not match its CRC-32")


def test_with_a_crc32_the_etag_is_not_what_is_checked() -> None:
    """The CRC-32 is the check when stored: a wrong one fails a body whose md5 is right."""
    assert BodyDigest(ETAG, len(BODY), zlib.crc32(BODY) ^ 1).check(BODY) == "body does not match its CRC-32"
    assert BodyDigest("0" * 32, len(BODY), zlib.crc32(BODY)).check(BODY) is None


@pytest.mark.parametrize("crc32", [None, zlib.crc32(BODY)], ids=["md5", "crc32"])
def test_a_longer_body_fails(crc32: int | None) -> None:
    assert BodyDigest(ETAG, 10, crc32).check(BODY[:11]) == "body longer than its stated length"


def test_crc32_is_that_of_the_pieces_in_order() -> None:
    crc = Crc32()
    for piece in (b"ab", b"", b"cde"):
        crc.update(piece)
    assert crc.crc == zlib.crc32(b"abcde")
