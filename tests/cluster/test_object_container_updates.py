"""Container updates sent by object writes: delivered, or queued in async_pending."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from martlet.backend import backend_path
from storage.async_pending import iter_pending
from aiohttp import web

from martlet.serve import runner_options
from storage.server import create_app
from tests.cluster.conftest import (
    StorageDaemon,
    make_devices,
    make_storage_config,
    start_storage_daemon,
    unused_port_address,
)
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


async def start_on_own_port(devices_root: Path) -> StorageDaemon:
    """A daemon whose config names the port it listens on (as a ring
    would), so that it knows an update for that host is its own."""
    port = int(unused_port_address().rpartition(":")[2])
    config = make_storage_config(devices_root, bind_port=port)
    runner = web.AppRunner(create_app(config), **runner_options(shutdown_timeout=2.0))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return StorageDaemon(config, runner, port)


async def row_updates_answered(backend: aiohttp.ClientSession, daemon: StorageDaemon) -> float:
    """PUT requests this daemon has answered 201, from its /metrics."""
    async with backend.get(daemon.url("/metrics")) as answer:
        text = await answer.text()
    lines = [line for line in text.splitlines()
             if line.startswith('martlet_http_requests_total{method="PUT",status="201"}')]
    return float(lines[0].split()[-1]) if lines else 0.0


async def test_update_for_a_container_on_the_same_node_is_applied_without_a_request(
    backend: aiohttp.ClientSession, tmp_path: Path
) -> None:
    daemon = await start_on_own_port(make_devices(tmp_path / "node", ("sda", "sdb")))
    try:
        cpath = backend_path("sdb", 7, "AUTH_a", "c")
        assert (await call(backend, daemon, "PUT", cpath, {"X-Timestamp": ts()}))[0] == 201
        status, _, _ = await put_object(backend, daemon, opath("local"), b"hi!", **{
            k.replace("-", "_"): v for k, v in update_headers(daemon.host).items()
        })
        assert status == 201
        assert list(iter_pending(daemon.device_path("sda"))) == []
        status, _, listing = await call(backend, daemon, "GET", cpath, {"Accept": "text/plain"})
        assert status == 200 and listing.split() == [b"local"]
        # Two PUTs reached it over HTTP (the container's, the object's):
        # the row update did not come back to it as a third.
        assert await row_updates_answered(backend, daemon) == 2

        # A row its own container server cannot take (no such container
        # database: a 404 over HTTP) is queued, as a failed request is.
        status, _, _ = await put_object(backend, daemon, opath("lost", container="nowhere"), b"x", **{
            k.replace("-", "_"): v for k, v in update_headers(daemon.host).items()
        })
        assert status == 201
        pending = [r for _, r in iter_pending(daemon.device_path("sda"))]
        assert [(r.container, r.obj, r.host) for r in pending] == [("nowhere", "lost", daemon.host)]
    finally:
        await daemon.stop()
