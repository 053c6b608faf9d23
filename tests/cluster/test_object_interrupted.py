"""Clients that go away or stall mid-body (raw sockets), and what stays on disk."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import aiohttp
import pytest

from storage.diskfile import object_location
from tests.cluster.conftest import TEST_HASH, StorageDaemon, make_devices, signed, start_storage_daemon
from tests.cluster.object_helpers import call, md5, opath, put_object, ts

pytestmark = pytest.mark.cluster


def request_head(path: str, length: int) -> bytes:
    signature = "".join(f"{k}: {v}\r\n" for k, v in signed("PUT", path).items())
    return (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Timestamp: {ts()}\r\n{signature}"
        f"Content-Type: text/plain\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def _temp_files(daemon: StorageDaemon) -> list[str]:
    """What is left in the device's tmp/ (a small body is read before any
    temp file is made, so tmp/ may never have been created)."""
    tmp = daemon.device_path("sda") / "tmp"
    return os.listdir(tmp) if tmp.exists() else []


async def wait_for_status(caplog: pytest.LogCaptureFixture, status: int, timeout: float = 10.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for record in caplog.records:
            if record.name == "martlet.access" and getattr(record, "status", None) == status:
                return vars(record)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no access log line with status {status} within {timeout}s")


def assert_only_original(daemon: StorageDaemon, obj: str) -> None:
    loc = object_location(daemon.device_path("sda"), 3, "AUTH_a", "c", obj, TEST_HASH)
    datas = [n for n in os.listdir(loc.hash_dir) if n.endswith(".data")] if loc.hash_dir.exists() else []
    assert len(datas) <= 1
    assert _temp_files(daemon) == []


async def test_client_disconnect_mid_body_is_499_and_leaves_nothing(
    storage_daemon: StorageDaemon, backend: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="martlet.access")
    original = b"original"
    await put_object(backend, storage_daemon, opath(), original)
    reader, writer = await asyncio.open_connection("127.0.0.1", storage_daemon.port)
    writer.write(request_head(opath(), 1_000_000) + b"x" * 300_000)
    await writer.drain()
    writer.transport.abort()  # vanish mid-body: RST, no FIN handshake
    line = await wait_for_status(caplog, 499)
    assert line["method"] == "PUT" and line["path"] == opath()
    assert_only_original(storage_daemon, "o")
    _, _, got = await call(backend, storage_daemon, "GET", opath())
    assert got == original


async def test_short_body_is_499(
    storage_daemon: StorageDaemon, backend: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="martlet.access")
    reader, writer = await asyncio.open_connection("127.0.0.1", storage_daemon.port)
    writer.write(request_head(opath("short"), 1000) + b"y" * 10)
    await writer.drain()
    # The body ends early: aiohttp sees EOF on the connection before
    # Content-Length bytes came, so the answer (499) is logged, not sent.
    writer.write_eof()
    line = await wait_for_status(caplog, 499)
    assert line["path"] == opath("short")
    writer.close()
    assert (await call(backend, storage_daemon, "GET", opath("short")))[0] == 404
    assert list(storage_daemon.devices_root.glob("sda/objects/**/*.data")) == []
    assert _temp_files(storage_daemon) == []


async def test_stalled_client_times_out_with_408(tmp_path: Path, backend: aiohttp.ClientSession) -> None:
    daemon = await start_storage_daemon(make_devices(tmp_path / "node"), client_timeout=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
        writer.write(request_head(opath("slow"), 1000) + b"z" * 10)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        assert status_line.split()[1] == b"408"
        assert _temp_files(daemon) == []
        assert (await call(backend, daemon, "GET", opath("slow")))[0] == 404
    finally:
        await daemon.stop()


async def test_big_object_streams_through(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    block = os.urandom(1 << 16)
    body = block * 64  # 4 MiB, many disk chunks
    status, headers, _ = await put_object(backend, storage_daemon, opath("big"), body)
    assert status == 201 and headers["ETag"] == md5(body)
    status, _, got = await call(backend, storage_daemon, "GET", opath("big"))
    assert status == 200 and got == body
