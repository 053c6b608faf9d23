"""Row updates a storage daemon addresses to itself are applied in process
(``ContainerServer.local_row``): the row lands without an HTTP request, and
one that fails is queued in ``async_pending`` exactly as a failed request's."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from martlet.backend import backend_path
from storage.async_pending import iter_pending
from tests.cluster.conftest import StorageDaemon, make_devices, start_storage_daemon, unused_port_address
from tests.cluster.test_container_server import call, ts

pytestmark = pytest.mark.cluster


async def start_named_as(devices_root: Path, own_port: int) -> StorageDaemon:
    """A daemon whose configuration says it is ``127.0.0.1:own_port`` while
    it listens on another port: an update for ``own_port`` can only reach
    its container server in process, never over HTTP (nothing listens there)."""
    return await start_storage_daemon(devices_root, bind_port=own_port)


def object_headers(own_port: int, container_device: str) -> dict[str, str]:
    return {
        "X-Timestamp": ts(),
        "X-Container-Host": f"127.0.0.1:{own_port}",
        "X-Container-Device": container_device,
        "X-Container-Partition": "3",
        "Content-Type": "text/plain",
    }


async def test_row_for_own_host_is_applied_in_process(tmp_path: Path, backend) -> None:
    own_port = int(unused_port_address().rpartition(":")[2])
    node = await start_named_as(make_devices(tmp_path / "node", ("sda", "sdb")), own_port)
    try:
        cpath = backend_path("sdb", 3, "AUTH_u", "c")
        assert (await call(backend, node, "PUT", cpath, {"X-Timestamp": ts()}))[0] == 201
        opath = backend_path("sda", 7, "AUTH_u", "c", "ob ject")
        status, _, _ = await call(backend, node, "PUT", opath, object_headers(own_port, "sdb"), data=b"12345")
        assert status == 201
        assert list(iter_pending(node.device_path("sda"))) == []  # not queued: delivered
        status, _, body = await call(backend, node, "GET", cpath, query={"format": "json"})
        [entry] = json.loads(body)
        assert status == 200 and entry["name"] == "ob ject" and entry["bytes"] == 5

        status, _, _ = await call(backend, node, "DELETE", opath, object_headers(own_port, "sdb"))
        assert status == 204
        assert list(iter_pending(node.device_path("sda"))) == []
        status, _, body = await call(backend, node, "GET", cpath, query={"format": "json"})
        assert status == 200 and json.loads(body) == []
    finally:
        await node.stop()


async def test_local_row_that_fails_is_queued(tmp_path: Path, backend, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    own_port = int(unused_port_address().rpartition(":")[2])
    node = await start_named_as(make_devices(tmp_path / "node", ("sda",)), own_port)
    try:
        # The container's device is not on this node (unmounted): a 507 over HTTP.
        opath = backend_path("sda", 7, "AUTH_u", "c", "o")
        status, _, _ = await call(backend, node, "PUT", opath, object_headers(own_port, "sdz"), data=b"x")
        assert status == 201  # the object is stored; its row waits for the updater
        [(_path, record)] = list(iter_pending(node.device_path("sda")))
        assert record.method == "PUT" and record.obj == "o" and record.ip_port == ("127.0.0.1", own_port)
        # Queued by the in-process path, not by an HTTP attempt refused for want of a listener.
        messages = [r.getMessage() for r in caplog.records]
        assert "local update failed" in messages and "update failed" not in messages
    finally:
        await node.stop()
