"""Every object route of a real in-process storage daemon, over HTTP."""

from __future__ import annotations

import errno
import os
import time
from unittest import mock

import aiohttp
import msgpack
import pytest

from martlet.conditional import http_date
from storage.diskfile import object_location

from tests.cluster.conftest import TEST_HASH, StorageDaemon
from tests.cluster.object_helpers import call, md5, opath, put_object, ts

pytestmark = pytest.mark.cluster


async def test_put_get_head(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    body = b"hello world"
    status, headers, _ = await put_object(
        backend, storage_daemon, opath("dir/o"), body, X_Object_Meta_Color="red", Content_Encoding="gzip"
    )
    assert status == 201 and headers["ETag"] == md5(body)
    status, headers, got = await call(backend, storage_daemon, "GET", opath("dir/o"))
    assert (status, got) == (200, body)
    assert headers["Content-Length"] == str(len(body))
    assert headers["ETag"] == md5(body)
    assert headers["Content-Type"] == "text/plain"
    assert headers["X-Object-Meta-Color"] == "red"
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Last-Modified"].endswith("GMT") and headers["X-Timestamp"]
    status, head_headers, got = await call(backend, storage_daemon, "HEAD", opath("dir/o"))
    assert (status, got) == (200, b"")
    assert head_headers["Content-Length"] == str(len(body))


async def test_chunked_put(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    async def chunks():
        for i in range(5):
            yield bytes([65 + i]) * 100_000

    status, headers, _ = await call(backend, storage_daemon, "PUT", opath(), {"X-Timestamp": ts()}, chunks())
    expected = b"".join(bytes([65 + i]) * 100_000 for i in range(5))
    assert status == 201 and headers["ETag"] == md5(expected)
    _, _, got = await call(backend, storage_daemon, "GET", opath())
    assert got == expected


async def test_etag_mismatch_is_422_and_leaves_nothing(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    status, _, _ = await put_object(backend, storage_daemon, opath(), b"data", ETag=md5(b"other"))
    assert status == 422
    assert list(storage_daemon.devices_root.glob("sda/objects/**/*.data")) == []
    assert os.listdir(storage_daemon.device_path("sda") / "tmp") == []
    status, _, _ = await put_object(backend, storage_daemon, opath(), b"data", ETag=f'"{md5(b"data")}"')
    assert status == 201


async def test_timestamps_decide(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    newer, older = ts(), ts()
    newer, older = max(newer, older), min(newer, older)
    status, _, _ = await call(backend, storage_daemon, "PUT", opath(), {"X-Timestamp": newer}, b"new")
    assert status == 201
    status, headers, _ = await call(backend, storage_daemon, "PUT", opath(), {"X-Timestamp": older}, b"old")
    assert status == 409 and headers["X-Backend-Timestamp"] == newer
    status, headers, _ = await call(backend, storage_daemon, "PUT", opath(), {"X-Timestamp": newer}, b"same")
    assert status == 409
    status, headers, _ = await call(backend, storage_daemon, "DELETE", opath(), {"X-Timestamp": older})
    assert status == 409
    # A body past one disk chunk takes the streaming path: refused before a temp file is opened.
    large = b"o" * (storage_daemon.config.storage.disk_chunk_size + 1)
    status, headers, _ = await call(backend, storage_daemon, "PUT", opath(), {"X-Timestamp": older}, large)
    assert status == 409 and headers["X-Backend-Timestamp"] == newer
    assert os.listdir(storage_daemon.device_path("sda") / "tmp") == []
    _, _, got = await call(backend, storage_daemon, "GET", opath())
    assert got == b"new"


async def test_missing_or_bad_timestamp_is_400(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    for method in ("PUT", "DELETE", "POST"):
        status, _, _ = await call(backend, storage_daemon, method, opath(), {}, b"x" if method == "PUT" else None)
        assert status == 400
    status, _, body = await call(backend, storage_daemon, "PUT", opath(), {"X-Timestamp": "yesterday"}, b"x")
    assert status == 400 and b"timestamp" in body


async def test_if_none_match_star(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    assert (await put_object(backend, storage_daemon, opath(), b"1", If_None_Match="*"))[0] == 201
    assert (await put_object(backend, storage_daemon, opath(), b"2", If_None_Match="*"))[0] == 412
    large = b"2" * (storage_daemon.config.storage.disk_chunk_size + 1)
    assert (await put_object(backend, storage_daemon, opath(), large, If_None_Match="*"))[0] == 412
    assert os.listdir(storage_daemon.device_path("sda") / "tmp") == []
    assert (await put_object(backend, storage_daemon, opath(), b"2", If_None_Match="abc"))[0] == 400


async def test_delete_and_tombstone(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    status, headers, _ = await call(backend, storage_daemon, "GET", opath())
    assert status == 404 and "X-Backend-Timestamp" not in headers  # never seen
    await put_object(backend, storage_daemon, opath(), b"x")
    stamp = ts()
    status, _, _ = await call(backend, storage_daemon, "DELETE", opath(), {"X-Timestamp": stamp})
    assert status == 204
    for method in ("GET", "HEAD"):
        status, headers, _ = await call(backend, storage_daemon, method, opath())
        assert status == 404 and headers["X-Backend-Timestamp"] == stamp  # deleted at T
    status, _, _ = await call(backend, storage_daemon, "DELETE", opath(), {"X-Timestamp": ts()})
    assert status == 404
    loc = object_location(storage_daemon.device_path("sda"), 3, "AUTH_a", "c", "o", TEST_HASH)
    names = os.listdir(loc.hash_dir)
    assert len(names) == 1 and names[0].endswith(".ts")


async def test_post_replaces_metadata(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    await put_object(backend, storage_daemon, opath(), b"x", X_Object_Meta_A="1", X_Object_Meta_B="2")
    headers = {"X-Timestamp": ts(), "X-Object-Meta-C": "3", "Content-Type": "image/png"}
    status, _, _ = await call(backend, storage_daemon, "POST", opath(), headers)
    assert status == 202
    _, got, body = await call(backend, storage_daemon, "GET", opath())
    assert body == b"x" and got["Content-Type"] == "image/png" and got["X-Object-Meta-C"] == "3"
    assert "X-Object-Meta-A" not in got and "X-Object-Meta-B" not in got
    assert got["X-Timestamp"] == headers["X-Timestamp"]
    status, _, _ = await call(backend, storage_daemon, "POST", opath("missing"), {"X-Timestamp": ts()})
    assert status == 404


async def test_x_delete_at(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    soon = int(time.time()) + 3600
    await put_object(backend, storage_daemon, opath("later"), b"x", X_Delete_At=str(soon))
    status, headers, _ = await call(backend, storage_daemon, "HEAD", opath("later"))
    assert status == 200 and headers["X-Delete-At"] == str(soon)
    past = int(time.time()) - 1
    assert (await put_object(backend, storage_daemon, opath("gone"), b"x", X_Delete_At=str(past)))[0] == 201
    assert (await call(backend, storage_daemon, "GET", opath("gone")))[0] == 404
    assert (await call(backend, storage_daemon, "POST", opath("gone"), {"X-Timestamp": ts()}))[0] == 404
    assert (await put_object(backend, storage_daemon, opath("bad"), b"x", X_Delete_At="soon"))[0] == 400
    # POST can set it too
    await call(backend, storage_daemon, "POST", opath("later"), {"X-Timestamp": ts(), "X-Delete-At": str(past)})
    assert (await call(backend, storage_daemon, "GET", opath("later")))[0] == 404


async def test_ranges(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    body = bytes(range(256)) * 4
    await put_object(backend, storage_daemon, opath(), body)

    async def get(range_header: str) -> tuple[int, dict[str, str], bytes]:
        return await call(backend, storage_daemon, "GET", opath(), {"Range": range_header})

    status, headers, got = await get("bytes=10-19")
    assert (status, got, headers["Content-Range"]) == (206, body[10:20], "bytes 10-19/1024")
    status, _, got = await get("bytes=-16")
    assert (status, got) == (206, body[-16:])
    status, _, got = await get("bytes=1000-")
    assert (status, got) == (206, body[1000:])
    status, headers, got = await get("bytes=2000-")
    assert status == 416 and headers["Content-Range"] == "bytes */1024"
    status, _, got = await get("bytes=garbage")
    assert (status, got) == (200, body)
    status, headers, got = await get("bytes=0-3,-4")
    assert status == 206 and headers["Content-Type"].startswith("multipart/byteranges")
    assert int(headers["Content-Length"]) == len(got)
    assert parse_byteranges(headers["Content-Type"], got) == [
        ("bytes 0-3/1024", body[:4]),
        ("bytes 1020-1023/1024", body[-4:]),
    ]


def parse_byteranges(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """A strict multipart/byteranges parser (RFC 2046 framing)."""
    boundary = content_type.split("boundary=", 1)[1].encode()
    assert body.endswith(b"\r\n--" + boundary + b"--\r\n")
    chunks = body[: -len(b"\r\n--" + boundary + b"--\r\n")].split(b"\r\n--" + boundary + b"\r\n")
    assert chunks[0].startswith(b"--" + boundary + b"\r\n")
    chunks[0] = chunks[0][len(b"--" + boundary + b"\r\n") :]
    parts = []
    for chunk in chunks:
        head, _, data = chunk.partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        parts.append((fields["Content-Range"], data))
    return parts


async def test_conditional_get(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    _, put_headers, _ = await put_object(backend, storage_daemon, opath(), b"x")
    etag = put_headers["ETag"]
    _, headers, _ = await call(backend, storage_daemon, "HEAD", opath())
    modified = headers["Last-Modified"]
    cases = [
        ({"If-Match": etag}, 200),
        ({"If-Match": '"nope"'}, 412),
        ({"If-None-Match": f'"{etag}"'}, 304),
        ({"If-None-Match": "nope"}, 200),
        ({"If-Modified-Since": modified}, 304),
        ({"If-Modified-Since": http_date(0)}, 200),
        ({"If-Unmodified-Since": http_date(0)}, 412),
        ({"If-Unmodified-Since": modified}, 200),
    ]
    for headers, expected in cases:
        status, got_headers, body = await call(backend, storage_daemon, "GET", opath(), headers)
        assert status == expected, headers
        if status == 304:
            assert body == b"" and got_headers["ETag"] == etag
    status, _, _ = await call(backend, storage_daemon, "GET", opath("missing"), {"If-Match": "*"})
    assert status == 412


@pytest.mark.parametrize(
    "path,status",
    [
        ("/sda/3/AUTH_a/c/" + "o" * 1025, 400),
        ("/sda/x/AUTH_a/c/o", 400),
        ("/sda/3/AUTH_a/c/%FF", 400),
        ("/%2E%2E/3/AUTH_a/c/o", 400),
        ("/sdz/3/AUTH_a/c/o", 507),
    ],
)
async def test_bad_paths(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession, path: str, status: int) -> None:
    got, _, body = await call(backend, storage_daemon, "PUT", path, {"X-Timestamp": ts()}, b"x")
    assert got == status and body and b"Traceback" not in body


async def test_device_that_is_a_file_is_507(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    (storage_daemon.devices_root / "sdf").write_text("not a mount")
    status, _, _ = await put_object(backend, storage_daemon, opath(device="sdf"), b"x")
    assert status == 507


async def test_full_disk_is_507_without_temp_files(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    with mock.patch("storage.diskfile.os.writev", side_effect=full):
        status, _, body = await put_object(backend, storage_daemon, opath(), b"x" * 300_000)
    assert status == 507 and b"full" in body
    assert os.listdir(storage_daemon.device_path("sda") / "tmp") == []
    assert not (storage_daemon.device_path("sda") / "objects").exists()


async def test_replicate(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    await put_object(backend, storage_daemon, opath("a"), b"x")
    await put_object(backend, storage_daemon, opath("b"), b"y")
    status, headers, body = await call(backend, storage_daemon, "REPLICATE", "/sda/3")
    assert status == 200 and headers["Content-Type"] == "application/x-msgpack"
    hashes = msgpack.unpackb(body)
    loc = object_location(storage_daemon.device_path("sda"), 3, "AUTH_a", "c", "a", TEST_HASH)
    assert loc.suffix in hashes and all(len(v) == 32 for v in hashes.values())
    assert (loc.part_dir / "hashes.msgpack").exists()
    status, _, body = await call(backend, storage_daemon, "REPLICATE", f"/sda/3/{loc.suffix}-fff")
    assert status == 200 and msgpack.unpackb(body) == hashes
    assert (await call(backend, storage_daemon, "REPLICATE", "/sda/3/xyz"))[0] == 400
    assert msgpack.unpackb((await call(backend, storage_daemon, "REPLICATE", "/sda/9"))[2]) == {}
