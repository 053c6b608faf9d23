"""The blocking reads behind a GET's body (storage.object_body)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from storage.object_body import Truncated, check_into, read_checked
from storage.quarantine import BodyMismatch, BodyVerifier

BODY = bytes(range(256)) * 40


def _open(tmp_path: Path, data: bytes) -> int:
    path = tmp_path / "o.data"
    path.write_bytes(data)
    return os.open(path, os.O_RDONLY)


def test_check_into_reads_into_the_buffer_and_verifies(tmp_path: Path) -> None:
    fd = _open(tmp_path, BODY)
    try:
        verifier = BodyVerifier(hashlib.md5(BODY).hexdigest(), len(BODY))
        buffer = bytearray(6000)
        check_into(fd, 0, 6000, verifier, buffer)
        assert bytes(buffer) == BODY[:6000]
        check_into(fd, 6000, len(BODY) - 6000, verifier, buffer)  # the last chunk: md5 checked
        assert bytes(buffer[:len(BODY) - 6000]) == BODY[6000:]
    finally:
        os.close(fd)


def test_check_into_raises_before_a_corrupt_last_chunk(tmp_path: Path) -> None:
    fd = _open(tmp_path, b"X" + BODY[1:])
    try:
        verifier = BodyVerifier(hashlib.md5(BODY).hexdigest(), len(BODY))
        buffer = bytearray(len(BODY))
        with pytest.raises(BodyMismatch):
            check_into(fd, 0, len(BODY), verifier, buffer)
    finally:
        os.close(fd)


def test_a_short_file_is_truncated(tmp_path: Path) -> None:
    fd = _open(tmp_path, BODY[:100])
    try:
        with pytest.raises(Truncated):
            check_into(fd, 0, 200, BodyVerifier("0" * 32, 200), bytearray(200))
        with pytest.raises(Truncated):
            read_checked(fd, 50, 100, None)
        assert read_checked(fd, 50, 50, None) == BODY[50:100]
    finally:
        os.close(fd)
