"""The storage side of replication on a real daemon: replicated writes,
suffix listings, and a GET that finds corrupt bytes."""

from __future__ import annotations

import os
import zlib

import aiohttp
import msgpack
import pytest

from martlet.timestamp import Timestamp
from storage.diskfile import object_location, read_file_metadata
from storage.metadata import ObjectMetadata, encode_metadata
from tests.cluster.conftest import TEST_HASH, StorageDaemon
from tests.cluster.object_helpers import call, md5, opath, put_object, ts

pytestmark = pytest.mark.cluster


def _replicated(meta: ObjectMetadata, ext: str, body: bytes = b"") -> tuple[dict[str, str], bytes]:
    blob = encode_metadata(meta)
    headers = {
        "X-Backend-Replication": "true",
        "X-Backend-Replication-Ext": ext,
        "X-Backend-Replication-Metadata-Length": str(len(blob)),
    }
    return headers, blob + body


def _hash_dir_names(daemon: StorageDaemon, obj: str) -> list[str]:
    loc = object_location(daemon.device_path("sda"), 3, "AUTH_a", "c", obj, TEST_HASH)
    return sorted(os.listdir(loc.hash_dir)) if loc.hash_dir.is_dir() else []


async def test_replicated_write_keeps_its_timestamp_and_metadata(
    storage_daemon: StorageDaemon, backend: aiohttp.ClientSession
) -> None:
    old = Timestamp.parse("1600000000.00000")
    body = b"replicated body"
    meta = ObjectMetadata(
        name="/AUTH_a/c/r", timestamp=old, etag=md5(body), content_length=len(body),
        content_type="text/x-test", user_meta={"Color": "red"},
    )
    headers, payload = _replicated(meta, ".data", body)
    status, _, _ = await call(backend, storage_daemon, "PUT", opath("r"), headers, payload)
    assert status == 201
    assert _hash_dir_names(storage_daemon, "r") == [f"{old.internal}.data"]
    status, got, data = await call(backend, storage_daemon, "GET", opath("r"))
    assert status == 200 and data == body
    assert got["X-Timestamp"] == old.normal and got["X-Object-Meta-Color"] == "red"
    assert got["Content-Type"] == "text/x-test"
    # Sent without a CRC-32 (as an older node would), stored with the
    # receiver's own, of the bytes it wrote: what its GETs then check.
    loc = object_location(storage_daemon.device_path("sda"), 3, "AUTH_a", "c", "r", TEST_HASH)
    assert read_file_metadata(loc.hash_dir / f"{old.internal}.data").crc32 == zlib.crc32(body)
    # The same file again, or anything older than what is there: 409, no write.
    assert (await call(backend, storage_daemon, "PUT", opath("r"), headers, payload))[0] == 409
    older = ObjectMetadata(name="/AUTH_a/c/r", timestamp=Timestamp.parse("1500000000"), etag=md5(b"x"), content_length=1)
    assert (await call(backend, storage_daemon, "PUT", opath("r"), *_replicated(older, ".data", b"x")))[0] == 409
    # A newer tombstone wins and cleans the data up.
    ts_meta = ObjectMetadata(name="/AUTH_a/c/r", timestamp=Timestamp.parse("1600000001"))
    assert (await call(backend, storage_daemon, "PUT", opath("r"), *_replicated(ts_meta, ".ts")))[0] == 201
    assert _hash_dir_names(storage_daemon, "r") == ["1600000001.00000.ts"]
    assert (await call(backend, storage_daemon, "GET", opath("r")))[0] == 404


async def test_replicated_write_refuses_bad_input(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    stamp = Timestamp.parse("1600000000")
    meta = ObjectMetadata(name="/AUTH_a/c/bad", timestamp=stamp, etag=md5(b"good"), content_length=4)
    # body does not match the ETag: 422, nothing left behind
    status, _, _ = await call(backend, storage_daemon, "PUT", opath("bad"), *_replicated(meta, ".data", b"evil"))
    assert status == 422
    assert _hash_dir_names(storage_daemon, "bad") == []
    assert os.listdir(storage_daemon.device_path("sda") / "tmp") == []
    # metadata naming another object
    status, _, _ = await call(backend, storage_daemon, "PUT", opath("other"), *_replicated(meta, ".data", b"good"))
    assert status == 400
    headers, payload = _replicated(meta, ".data", b"good")
    for key, value in (("X-Backend-Replication-Ext", ".exe"), ("X-Backend-Replication-Metadata-Length", "x")):
        status, _, _ = await call(backend, storage_daemon, "PUT", opath("bad"), {**headers, key: value}, payload)
        assert status == 400, key
    status, _, _ = await call(backend, storage_daemon, "PUT", opath("bad"), {**headers, "X-Backend-Replication-Metadata-Length": "3"}, payload)
    assert status == 400  # undecodable metadata
    assert (await call(backend, storage_daemon, "POST", opath("bad"), headers, payload))[0] == 405


async def test_suffix_listing(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    await put_object(backend, storage_daemon, opath("l1"), b"1")
    await call(backend, storage_daemon, "POST", opath("l1"), {"X-Timestamp": ts(), "X-Object-Meta-A": "b"})
    loc = object_location(storage_daemon.device_path("sda"), 3, "AUTH_a", "c", "l1", TEST_HASH)
    status, _, body = await call(
        backend, storage_daemon, "REPLICATE", f"/sda/3/{loc.suffix}-fff", {"X-Backend-Replication-Op": "list"}
    )
    assert status == 200
    listing = msgpack.unpackb(body)
    assert sorted(listing) == sorted({loc.suffix, "fff"})
    names = listing[loc.suffix][loc.hash]
    assert [n.rpartition(".")[2] for n in names] == ["data", "meta"]
    assert (await call(backend, storage_daemon, "REPLICATE", "/sda/3", {"X-Backend-Replication-Op": "list"}))[0] == 400


async def test_hashes_of_several_partitions_in_one_request(
    storage_daemon: StorageDaemon, backend: aiohttp.ClientSession
) -> None:
    await put_object(backend, storage_daemon, opath("h1"), b"1")
    loc = object_location(storage_daemon.device_path("sda"), 3, "AUTH_a", "c", "h1", TEST_HASH)
    batch = {"X-Backend-Replication-Op": "hashes"}
    status, _, body = await call(backend, storage_daemon, "REPLICATE", "/sda/3", batch, msgpack.packb([3, 9]))
    assert status == 200
    _, _, single = await call(backend, storage_daemon, "REPLICATE", "/sda/3")
    # the same hashes a request for the one partition gets; {} where there is nothing
    assert msgpack.unpackb(body, strict_map_key=False) == {3: msgpack.unpackb(single), 9: {}}
    assert loc.suffix in msgpack.unpackb(single)
    for bad in (b"\xc1", msgpack.packb({"3": 1}), msgpack.packb([-1]), msgpack.packb(["3"]), msgpack.packb([1.5])):
        assert (await call(backend, storage_daemon, "REPLICATE", "/sda/3", batch, bad))[0] == 400, bad
    too_many = msgpack.packb(list(range(1025)))
    assert (await call(backend, storage_daemon, "REPLICATE", "/sda/3", batch, too_many))[0] == 400
    assert (await call(backend, storage_daemon, "REPLICATE", "/sda/3", batch, b"\x90" * 6000))[0] == 413


async def test_get_of_corrupt_bytes_is_cut_and_quarantined(
    storage_daemon: StorageDaemon, backend: aiohttp.ClientSession
) -> None:
    body = os.urandom(700_000)  # three disk chunks
    await put_object(backend, storage_daemon, opath("rot"), body)
    loc = object_location(storage_daemon.device_path("sda"), 3, "AUTH_a", "c", "rot", TEST_HASH)
    (data,) = [n for n in os.listdir(loc.hash_dir) if n.endswith(".data")]
    with open(loc.hash_dir / data, "r+b") as handle:
        handle.seek(600_000)
        handle.write(b"\0" * 8 if body[600_000:600_008] != b"\0" * 8 else b"\1" * 8)
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with backend.get(storage_daemon.url(opath("rot"))) as resp:
            assert resp.status == 200
            async for chunk in resp.content.iter_chunked(65536):
                received += chunk
    assert len(received) < len(body)
    assert not loc.hash_dir.exists()
    quarantined = storage_daemon.device_path("sda") / "quarantined" / "objects" / loc.hash
    assert quarantined.is_dir()
    assert (await call(backend, storage_daemon, "GET", opath("rot")))[0] == 404
    # a range GET is not checked against the whole md5, and a sound GET is whole
    await put_object(backend, storage_daemon, opath("fine"), body)
    status, _, data = await call(backend, storage_daemon, "GET", opath("fine"))
    assert status == 200 and data == body
