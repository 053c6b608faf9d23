"""Object metadata end to end: Swift's limits over HTTP, and corrupt metadata."""

from __future__ import annotations

import os

import aiohttp
import pytest

from storage.diskfile import object_location
from tests.cluster.conftest import TEST_HASH, StorageDaemon
from tests.cluster.object_helpers import call, opath, put_object, ts
from tests.unit.storage.test_metadata import make_worst_case

pytestmark = pytest.mark.cluster


async def test_swift_metadata_limits_round_trip(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    worst = make_worst_case()
    obj = worst.name.split("/", 3)[3]  # the 1024-byte object name
    account, container = worst.name.split("/")[1:3]
    path = opath(obj, container=container, account=account)
    headers = {f"X-Object-Meta-{k}": v for k, v in worst.user_meta.items()}
    headers["Content-Type"] = worst.content_type or ""
    body = b"z" * 100
    status, _, reason = await call(backend, storage_daemon, "PUT", path, {"X-Timestamp": ts(), **headers}, body)
    assert status == 201, reason
    status, got, data = await call(backend, storage_daemon, "GET", path)
    assert status == 200 and data == body
    for key, value in worst.user_meta.items():
        assert got[f"X-Object-Meta-{key}"] == value
    assert got["Content-Type"] == worst.content_type
    # and a POST of the same amount replaces it all
    status, _, _ = await call(backend, storage_daemon, "POST", path, {"X-Timestamp": ts(), **headers})
    assert status == 202
    status, got, data = await call(backend, storage_daemon, "GET", path)
    assert status == 200 and data == body and len([k for k in got if k.lower().startswith("x-object-meta-")]) == 90


async def test_corrupt_metadata_is_404_not_500(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    await put_object(backend, storage_daemon, opath(), b"x")
    loc = object_location(storage_daemon.device_path("sda"), 3, "AUTH_a", "c", "o", TEST_HASH)
    (data_file,) = [loc.hash_dir / n for n in os.listdir(loc.hash_dir)]
    os.setxattr(data_file, "user.martlet.meta", b"\xc1 not msgpack")
    for method in ("GET", "HEAD"):
        assert (await call(backend, storage_daemon, method, opath()))[0] == 404
    # a new PUT replaces the corrupt object
    assert (await put_object(backend, storage_daemon, opath(), b"fresh"))[0] == 201
    assert (await call(backend, storage_daemon, "GET", opath()))[2] == b"fresh"
