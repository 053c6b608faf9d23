"""The expirer's queue as the storage daemons keep it: an object write
with ``X-Delete-At`` records a task row in ``.expiring_objects`` through the
container-update path, so a task whose container server is down waits in
async_pending and lands once the updater replays it; the task container and
the hidden account are created by their first row."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from martlet.backend import backend_path
from martlet.expiring import HIDDEN_ACCOUNT, task_container, task_content_type, task_name
from replicator.updater import Updater
from tests.cluster.conftest import TEST_KEY, StorageDaemon, make_devices, start_storage_daemon, unused_port_address
from tests.cluster.test_container_server import call, ts
from tests.cluster.test_updater import fast_section, pending, start_on_port

pytestmark = pytest.mark.cluster


def task_headers(delete_at: int, port: int) -> dict[str, str]:
    """What the proxy adds to an object write that sets ``X-Delete-At``."""
    return {
        "X-Delete-At": str(delete_at),
        "X-Delete-At-Container": task_container(delete_at),
        "X-Delete-At-Host": f"127.0.0.1:{port}",
        "X-Delete-At-Device": "sdb",
        "X-Delete-At-Partition": "3",
        "X-Delete-At-Account-Host": f"127.0.0.1:{port}",
        "X-Delete-At-Account-Device": "sdb",
        "X-Delete-At-Account-Partition": "5",
    }


async def task_listing(backend: aiohttp.ClientSession, node: StorageDaemon, delete_at: int) -> list[dict[str, str]]:
    status, _, body = await call(backend, node, "GET", backend_path("sdb", 3, HIDDEN_ACCOUNT, task_container(delete_at)),
                                 query={"format": "json"})
    assert status == 200, status
    return json.loads(body)


async def test_a_task_whose_container_server_is_down_is_queued_and_replayed(tmp_path: Path, backend) -> None:
    port = int(unused_port_address().rpartition(":")[2])
    object_node = await start_storage_daemon(make_devices(tmp_path / "obj", ("sda",)))
    container_root = make_devices(tmp_path / "cont", ("sdb",))
    container_node = None
    try:
        # An object without X-Delete-At queues nothing, and tells no one.
        plain = backend_path("sda", 7, "AUTH_u", "c", "plain")
        assert (await call(backend, object_node, "PUT", plain, {"X-Timestamp": ts()}, data=b"x"))[0] == 201
        assert pending(object_node.device_path("sda")) == []

        # The task container's server is down: the object is written, its task queued.
        delete_at = int(time.time()) + 3600
        opath = backend_path("sda", 7, "AUTH_u", "c", "dir/o")
        headers = {"X-Timestamp": ts(), **task_headers(delete_at, port)}
        assert (await call(backend, object_node, "PUT", opath, headers, data=b"payload"))[0] == 201
        [record] = pending(object_node.device_path("sda"))
        assert (record.method, record.account, record.container, record.obj) == (
            "PUT", HIDDEN_ACCOUNT, task_container(delete_at), task_name(delete_at, "AUTH_u", "c", "dir/o"))

        # Back up: the updater delivers it; the task container is created by it.
        container_node = await start_on_port(container_root, port)
        updater = Updater(object_node.devices_root, fast_section(), TEST_KEY, fsync=False)
        async with updater.make_client() as client:
            await updater.run_pass(client, once=True)
        assert updater.metrics.succeeded == 1 and pending(object_node.device_path("sda")) == []
        [row] = await task_listing(backend, container_node, delete_at)
        assert row["name"] == task_name(delete_at, "AUTH_u", "c", "dir/o")
        assert row["content_type"] == task_content_type(0)

        # ... and reports itself to the hidden account, which its first row creates.
        async def account_lists_it() -> bool:
            status, _, body = await call(backend, container_node, "GET", backend_path("sdb", 5, HIDDEN_ACCOUNT),
                                         query={"format": "json"})
            return status == 200 and [r["name"] for r in json.loads(body)] == [task_container(delete_at)]

        deadline = time.monotonic() + 15
        while not await account_lists_it():
            assert time.monotonic() < deadline, "the hidden account never listed the task container"
            await asyncio.sleep(0.2)

        # A POST moving the time (within the day) replaces the row. (One dropping it names no task
        # container, so its row stays until the expirer's X-If-Delete-At DELETE gets a 412.)
        later = delete_at + 1 if task_container(delete_at + 1) == task_container(delete_at) else delete_at - 1
        headers = {"X-Timestamp": ts(), **task_headers(later, port)}
        assert (await call(backend, object_node, "POST", opath, headers))[0] == 202
        assert [r["name"] for r in await task_listing(backend, container_node, delete_at)] == [
            task_name(later, "AUTH_u", "c", "dir/o")]
    finally:
        if container_node is not None:
            await container_node.stop()
        await object_node.stop()
