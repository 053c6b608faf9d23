"""Container updates sent by object writes: delivered, or queued in async_pending."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from martlet.backend import backend_path
from storage.async_pending import iter_pending
from tests.cluster.conftest import StorageDaemon, make_devices, start_storage_daemon, unused_port_address
from tests.cluster.object_helpers import call, md5, opath, put_object, ts

pytestmark = pytest.mark.cluster


def update_headers(host: str, device: str = "sdb", partition: int = 7) -> dict[str, str]:
    return {"X-Container-Host": host, "X-Container-Device": device, "X-Container-Partition": str(partition)}


async def test_unreachable_container_host_queues_the_update(
    storage_daemon: StorageDaemon, backend: aiohttp.ClientSession
) -> None:
    dead = unused_port_address()
    status, headers, _ = await put_object(backend, storage_daemon, opath("o/1"), b"abc", **{
        k.replace("-", "_"): v for k, v in update_headers(dead).items()
    })
    assert status == 201  # the object write succeeds anyway
    pending = list(iter_pending(storage_daemon.device_path("sda")))
    assert len(pending) == 1
    path, record = pending[0]
    assert (record.method, record.host, record.device, record.partition) == ("PUT", dead, "sdb", 7)
    assert (record.account, record.container, record.obj) == ("AUTH_a", "c", "o/1")
    assert record.headers["X-Backend-Type"] == "container"
    assert record.headers["X-Size"] == "3"
    assert record.headers["X-Etag"] == md5(b"abc")
    assert record.headers["X-Content-Type"] == "text/plain"
    assert path.name.endswith("-" + record.headers["X-Timestamp"])

    stamp = ts()
    status, _, _ = await call(
        backend, storage_daemon, "DELETE", opath("o/1"), {"X-Timestamp": stamp, **update_headers(dead)}
    )
    assert status == 204
    records = [r for _, r in iter_pending(storage_daemon.device_path("sda"))]
    deletes = [r for r in records if r.method == "DELETE"]
    assert len(deletes) == 1 and deletes[0].headers == {
        "X-Backend-Type": "container", "X-Timestamp": stamp, "X-Backend-Storage-Policy-Index": "0"}


async def test_update_reaches_a_real_container_server(
    storage_daemon: StorageDaemon, backend: aiohttp.ClientSession, tmp_path: Path
) -> None:
    container_node = await start_storage_daemon(make_devices(tmp_path / "cnode", ("sdb",)))
    try:
        cpath = backend_path("sdb", 7, "AUTH_a", "c")
        status, _, _ = await call(backend, container_node, "PUT", cpath, {"X-Timestamp": ts()})
        assert status in (201, 202)
        status, _, _ = await put_object(backend, storage_daemon, opath("hello"), b"hi!", **{
            k.replace("-", "_"): v for k, v in update_headers(container_node.host).items()
        })
        assert status == 201
        assert list(iter_pending(storage_daemon.device_path("sda"))) == []
        status, _, listing = await call(backend, container_node, "GET", cpath, {"Accept": "text/plain"})
        assert status == 200 and listing.split() == [b"hello"]
    finally:
        await container_node.stop()


async def test_mismatched_update_headers_are_400(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    headers = {"X_Container_Host": "127.0.0.1:1,127.0.0.1:2", "X_Container_Device": "sdb", "X_Container_Partition": "1"}
    assert (await put_object(backend, storage_daemon, opath(), b"x", **headers))[0] == 400
    assert (await call(backend, storage_daemon, "GET", opath()))[0] == 404  # nothing was written
