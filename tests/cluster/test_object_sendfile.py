"""Object bodies out of a real storage daemon: the sendfile path and its
fallback send the same bytes, whole or ranged, and both cut a corrupt
multi-chunk body before its last chunk; a small body comes with the
object's state in one thread hop, checked all the same (storage.object_body)."""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from storage.diskfile import object_location, read_file_metadata
from storage.metadata import ObjectMetadata, write_metadata
from storage.object_body import BODY_CHUNK, SENDFILE_MIN
from storage.server import CONTEXT_KEY
from tests.cluster.conftest import TEST_HASH, StorageDaemon, make_devices, start_storage_daemon
from tests.cluster.object_helpers import call, opath, put_object

pytestmark = pytest.mark.cluster

# Three and a half chunks: a whole GET is several sendfile calls and md5 checks.
BODY = os.urandom(BODY_CHUNK * 3 + BODY_CHUNK // 2)


@pytest.fixture(params=[True, False], ids=["sendfile", "read-write"])
async def daemon(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StorageDaemon]:
    started = await start_storage_daemon(make_devices(tmp_path / "node"), sendfile=request.param)
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bytes each real ``os.sendfile`` call sent (a spy: it still sends;
    a call that would block raises and records nothing)."""
    calls: list[int] = []
    real: Callable[..., int] = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: Any, count: int) -> int:
        sent = real(out_fd, in_fd, offset, count)
        calls.append(sent)
        return sent

    monkeypatch.setattr(os, "sendfile", counting)
    return calls


async def test_whole_body_and_ranges(daemon: StorageDaemon, backend: aiohttp.ClientSession,
                                     sendfile_calls: list[int]) -> None:
    assert (await put_object(backend, daemon, opath(), BODY))[0] == 201
    status, headers, data = await call(backend, daemon, "GET", opath())
    assert status == 200 and data == BODY and headers["ETag"] == hashlib.md5(BODY).hexdigest()
    assert sum(sendfile_calls) == (len(BODY) if daemon.config.storage.sendfile else 0)
    # A range across chunk boundaries, a suffix, one inside the first chunk.
    for first, last in ((BODY_CHUNK - 10, 2 * BODY_CHUNK + 10), (len(BODY) - 100, len(BODY) - 1), (5, 9)):
        status, headers, data = await call(backend, daemon, "GET", opath(), {"Range": f"bytes={first}-{last}"})
        assert status == 206 and data == BODY[first:last + 1]
        assert headers["Content-Range"] == f"bytes {first}-{last}/{len(BODY)}"
    status, headers, data = await call(backend, daemon, "GET", opath(), {"Range": "bytes=0-1,-2"})
    assert status == 206 and BODY[:2] in data and BODY[-2:] in data
    assert headers["Content-Type"].startswith("multipart/byteranges")
    status, headers, data = await call(backend, daemon, "HEAD", opath())
    assert status == 200 and data == b"" and headers["Content-Length"] == str(len(BODY))
    if daemon.config.storage.sendfile:
        assert sum(sendfile_calls) >= len(BODY)
    else:
        assert sendfile_calls == []


async def test_small_bodies_are_read_and_written(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession,
                                                 sendfile_calls: list[int]) -> None:
    """Below SENDFILE_MIN one read and one write cost less than sendfile's
    extra calls; a large object's short range is read too."""
    small = os.urandom(SENDFILE_MIN - 1)
    assert (await put_object(backend, storage_daemon, opath("small"), small))[0] == 201
    status, _, data = await call(backend, storage_daemon, "GET", opath("small"))
    assert status == 200 and data == small
    assert (await put_object(backend, storage_daemon, opath(), BODY))[0] == 201
    status, _, data = await call(backend, storage_daemon, "GET", opath(), {"Range": "bytes=5-9"})
    assert status == 206 and data == BODY[5:10]
    assert sendfile_calls == []
    status, _, data = await call(backend, storage_daemon, "GET", opath(), {"Range": f"bytes=0-{SENDFILE_MIN - 1}"})
    assert status == 206 and data == BODY[:SENDFILE_MIN] and sum(sendfile_calls) == SENDFILE_MIN
    edge = os.urandom(SENDFILE_MIN)
    assert (await put_object(backend, storage_daemon, opath("edge"), edge))[0] == 201
    status, _, data = await call(backend, storage_daemon, "GET", opath("edge"))
    assert status == 200 and data == edge and sum(sendfile_calls) == 2 * SENDFILE_MIN


async def _received_before_the_cut(backend: aiohttp.ClientSession, daemon: StorageDaemon) -> bytes:
    """The body bytes a GET got (status 200) before its connection was cut."""
    received = bytearray()
    with pytest.raises(aiohttp.ClientPayloadError):
        async with backend.get(daemon.url(opath())) as response:
            assert response.status == 200
            async for piece in response.content.iter_any():
                received += piece
    return bytes(received)


async def test_corrupt_body_is_cut_before_its_last_chunk(daemon: StorageDaemon,
                                                         backend: aiohttp.ClientSession) -> None:
    assert (await put_object(backend, daemon, opath(), BODY))[0] == 201
    loc = object_location(daemon.device_path("sda"), 3, "AUTH_a", "c", "o", TEST_HASH)
    (data_file,) = [loc.hash_dir / n for n in os.listdir(loc.hash_dir)]
    with open(data_file, "r+b") as handle:
        handle.seek(10)
        handle.write(bytes([BODY[10] ^ 0xFF]))
    received = await _received_before_the_cut(backend, daemon)
    assert len(received) <= len(BODY) - (len(BODY) % BODY_CHUNK)  # the last chunk never went out
    assert (await call(backend, daemon, "GET", opath()))[0] == 404  # quarantined


async def test_refused_sendfile_falls_back_to_reads(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A socket the kernel will not sendfile to (injected: EINVAL, as for an
    unsupported socket type) still gets every byte, checked or ranged."""

    refused: list[int] = []

    def refuse(*_args: Any) -> int:
        refused.append(1)
        raise OSError(22, "Invalid argument")

    assert (await put_object(backend, storage_daemon, opath(), BODY))[0] == 201
    monkeypatch.setattr(os, "sendfile", refuse)
    status, _, data = await call(backend, storage_daemon, "GET", opath())
    assert status == 200 and data == BODY
    assert len(refused) == 1  # sendfile was tried, refused, and not tried again
    status, _, data = await call(backend, storage_daemon, "GET", opath(), {"Range": "bytes=100-"})
    assert status == 206 and data == BODY[100:]
    assert len(refused) == 2


def _stored(daemon: StorageDaemon) -> tuple[Path, ObjectMetadata]:
    loc = object_location(daemon.device_path("sda"), 3, "AUTH_a", "c", "o", TEST_HASH)
    (data_file,) = [loc.hash_dir / n for n in os.listdir(loc.hash_dir)]
    return data_file, read_file_metadata(data_file)


def _restore_metadata(data_file: Path, meta: ObjectMetadata) -> None:
    fd = os.open(data_file, os.O_RDWR)
    try:
        write_metadata(fd, meta, os.fstat(fd).st_size)
    finally:
        os.close(fd)


async def _get_is_cut(daemon: StorageDaemon, backend: aiohttp.ClientSession) -> bool:
    try:
        async with backend.get(daemon.url(opath())) as response:
            await response.read()
    except aiohttp.ClientPayloadError:
        return (await call(backend, daemon, "GET", opath()))[0] == 404  # and quarantined
    return False


async def test_a_whole_get_checks_the_stored_crc32(daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    """The .data carries its body's CRC-32, and a GET checks that (cheaper
    than the md5): a wrong CRC-32 over a sound body is taken for rot."""
    assert (await put_object(backend, daemon, opath(), BODY))[0] == 201
    data_file, meta = _stored(daemon)
    assert meta.crc32 == zlib.crc32(BODY) and meta.etag == hashlib.md5(BODY).hexdigest()
    _restore_metadata(data_file, replace(meta, crc32=meta.crc32 ^ 1))
    assert await _get_is_cut(daemon, backend)


async def test_an_object_without_a_crc32_is_checked_by_its_md5(daemon: StorageDaemon,
                                                              backend: aiohttp.ClientSession) -> None:
    """A .data written before CRC-32s were stored: its md5 still guards it."""
    assert (await put_object(backend, daemon, opath(), BODY))[0] == 201
    data_file, meta = _stored(daemon)
    _restore_metadata(data_file, replace(meta, crc32=None))
    status, _, data = await call(backend, daemon, "GET", opath())
    assert status == 200 and data == BODY
    with open(data_file, "r+b") as handle:
        handle.seek(len(BODY) - 5)
        handle.write(bytes([BODY[-5] ^ 0xFF]))
    assert await _get_is_cut(daemon, backend)


SMALL = os.urandom(SENDFILE_MIN - 1)


async def test_a_small_get_and_a_head_each_cost_one_call_to_the_device_threads(
        storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    """The state, the body of a small object and the close come in one hop
    (``open_for_read``), not one for each."""
    assert (await put_object(backend, storage_daemon, opath(), SMALL))[0] == 201
    io = storage_daemon.runner.app[CONTEXT_KEY].io
    calls: list[str] = []
    run = io.run

    async def counted(device: str, fn: Callable[..., Any], *args: Any) -> Any:
        calls.append(fn.__name__)
        return await run(device, fn, *args)

    io.run = counted  # type: ignore[method-assign]
    status, headers, data = await call(backend, storage_daemon, "GET", opath())
    assert status == 200 and data == SMALL and headers["Content-Length"] == str(len(SMALL))
    status, headers, data = await call(backend, storage_daemon, "HEAD", opath())
    assert status == 200 and data == b"" and headers["Content-Length"] == str(len(SMALL))
    assert calls == ["open_for_read", "open_for_read"]
    status, _, data = await call(backend, storage_daemon, "GET", opath(), {"Range": "bytes=1-2"})
    assert status == 206 and data == SMALL[1:3]  # a range is read on from the descriptor kept
    assert calls == ["open_for_read", "open_for_read", "open_for_read", "read_checked"]


@pytest.mark.parametrize("damage", ["flipped", "truncated"])
async def test_a_small_body_read_with_its_state_is_still_checked(
        storage_daemon: StorageDaemon, backend: aiohttp.ClientSession, damage: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """A small body that fails its check (or is short) is cut after the
    status, as the chunk read after it was; a corrupt one is quarantined,
    a short one logged."""
    assert (await put_object(backend, storage_daemon, opath(), SMALL))[0] == 201
    data_file, _ = _stored(storage_daemon)
    with open(data_file, "r+b") as handle:
        if damage == "flipped":
            handle.seek(10)
            handle.write(bytes([SMALL[10] ^ 0xFF]))
        else:
            handle.truncate(len(SMALL) - 1)
    assert await _received_before_the_cut(backend, storage_daemon) == b""
    if damage == "flipped":
        assert (await call(backend, storage_daemon, "GET", opath()))[0] == 404  # quarantined
    else:
        assert data_file.exists()  # short, not rotten: left where it is, as for a large body
        assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == ["object shorter than its metadata"]
