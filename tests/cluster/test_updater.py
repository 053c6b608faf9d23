"""The updater against real daemons: updates queued while a container (or
account) server is down reach it once it is back."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from aiohttp import web

from martlet.backend import backend_path
from ops.dev_processes import martlet_argv
from replicator.updater import Outcome, Updater, UpdaterSection, classify
from storage.async_pending import PendingUpdate, iter_pending, write_pending
from storage.server import create_app
from tests.cluster.conftest import (
    TEST_KEY,
    TEST_HASH,
    StorageDaemon,
    make_devices,
    make_storage_config,
    start_storage_daemon,
    unused_port_address,
    write_storage_conf,
)
from tests.cluster.test_container_server import call, ts

pytestmark = pytest.mark.cluster


async def start_on_port(devices_root: Path, port: int) -> StorageDaemon:
    """A daemon on a chosen port, so that a "restarted" node keeps its address."""
    config = make_storage_config(devices_root)
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return StorageDaemon(config, runner, port)


def pending(device_path: Path) -> list[PendingUpdate]:
    return [record for _path, record in iter_pending(device_path)]


def fast_section(**keys: object) -> UpdaterSection:
    return UpdaterSection(**{"conn_timeout": 0.5, "node_timeout": 5.0, **keys})  # type: ignore[arg-type]


async def test_object_put_while_container_server_down(tmp_path: Path, backend) -> None:
    port = int(unused_port_address().rpartition(":")[2])
    object_node = await start_storage_daemon(make_devices(tmp_path / "obj", ("sda",)))
    container_root = make_devices(tmp_path / "cont", ("sdb",))
    container_node = await start_on_port(container_root, port)
    try:
        cpath = backend_path("sdb", 2, "AUTH_u", "c")
        assert (await call(backend, container_node, "PUT", cpath, {"X-Timestamp": ts()}))[0] == 201
        await container_node.stop()  # the container server is down

        headers = {
            "X-Timestamp": ts(),
            "X-Container-Host": f"127.0.0.1:{port}",
            "X-Container-Device": "sdb",
            "X-Container-Partition": "2",
            "Content-Type": "text/plain",
        }
        opath = backend_path("sda", 7, "AUTH_u", "c", "dir/ob ject")
        status, _, _ = await call(backend, object_node, "PUT", opath, headers, data=b"payload")
        assert status == 201  # the write succeeds; its container update is queued
        [record] = pending(object_node.device_path("sda"))
        assert record.method == "PUT" and record.obj == "dir/ob ject"

        # A pass while the server is still down keeps the update.
        updater = Updater(object_node.devices_root, fast_section(), TEST_KEY, fsync=False)
        async with updater.make_client() as client:
            await updater.run_pass(client, once=True)
        assert updater.metrics.failed == 1 and updater.metrics.succeeded == 0
        assert len(pending(object_node.device_path("sda"))) == 1

        container_node = await start_on_port(container_root, port)  # back
        # One pass of the real command, as an operator runs it.
        conf = write_storage_conf(tmp_path, object_node.devices_root, "[updater]\nconcurrency = 2\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MARTLET_")}
        # Asynchronous: the container daemon is served by this test's loop.
        process = await asyncio.create_subprocess_exec(
            *martlet_argv("updater", "--config", str(conf), "--once"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
        )
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, stderr
        passes = [json.loads(line) for line in stderr.splitlines() if b"updater pass" in line]
        assert passes and passes[-1]["succeeded"] == 1, stderr
        assert pending(object_node.device_path("sda")) == []

        status, _, body = await call(backend, container_node, "GET", cpath, query={"format": "json"})
        assert status == 200
        [entry] = json.loads(body)
        assert entry["name"] == "dir/ob ject" and entry["bytes"] == 7
    finally:
        await object_node.stop()
        await container_node.stop()


async def test_account_update_queued_and_replayed(tmp_path: Path, backend) -> None:
    port = int(unused_port_address().rpartition(":")[2])
    container_node = await start_storage_daemon(make_devices(tmp_path / "cont", ("sda",)))
    account_root = make_devices(tmp_path / "acct", ("sdc",))
    account_node = await start_on_port(account_root, port)
    try:
        apath = backend_path("sdc", 4, "AUTH_v")
        assert (await call(backend, account_node, "PUT", apath, {"X-Timestamp": ts()}))[0] == 201
        await account_node.stop()
        target = {"X-Account-Host": f"127.0.0.1:{port}", "X-Account-Device": "sdc", "X-Account-Partition": "4"}
        cpath = backend_path("sda", 1, "AUTH_v", "photos")
        status, _, _ = await call(backend, container_node, "PUT", cpath, {"X-Timestamp": ts(), **target})
        assert status == 201
        [record] = pending(container_node.device_path("sda"))
        assert record.headers["X-Backend-Type"] == "account" and record.container == "photos"

        account_node = await start_on_port(account_root, port)
        updater = Updater(container_node.devices_root, fast_section(), TEST_KEY, fsync=False)
        await updater.run(once=True)
        assert updater.metrics.succeeded == 1
        assert pending(container_node.device_path("sda")) == []
        status, _, body = await call(backend, account_node, "GET", apath)
        assert body.decode().splitlines() == ["photos"]
    finally:
        await container_node.stop()
        await account_node.stop()


async def test_superseded_failed_and_backoff(storage_daemon, backend) -> None:
    d = storage_daemon
    device = d.device_path("sda")
    old = ts()
    # An account that was deleted after the queued update was made.
    apath = backend_path("sda", 4, "AUTH_gone")
    await call(backend, d, "PUT", apath, {"X-Timestamp": ts()})
    await call(backend, d, "DELETE", apath, {"X-Timestamp": ts()})
    row = {"X-Backend-Type": "account", "X-Timestamp": old, "X-Put-Timestamp": old,
           "X-Delete-Timestamp": "0", "X-Object-Count": "1", "X-Bytes-Used": "1"}
    moot = PendingUpdate("PUT", d.host, "sda", 4, "AUTH_gone", "c", None, row)
    # A container that does not exist on this node (yet): a plain 404, kept.
    orphan = PendingUpdate("DELETE", d.host, "sda", 9, "AUTH_x", "nope", "o",
                           {"X-Backend-Type": "container", "X-Timestamp": ts()})
    for record in (moot, orphan):
        write_pending(device, record, TEST_HASH, fsync=False)

    updater = Updater(d.devices_root, fast_section(backoff=30.0), TEST_KEY, fsync=False)
    async with updater.make_client() as client:
        first = await updater.run_pass(client)
        assert (first.sent, first.superseded, first.failed) == (2, 1, 1)
        assert pending(device) == [orphan]
        # The failed record now waits out its backoff instead of being resent.
        second = await updater.run_pass(client)
        assert (second.sent, second.deferred) == (0, 1)
    snapshot = updater.metrics.snapshot()
    assert snapshot["passes"] == 2 and snapshot["superseded"] == 1 and snapshot["failed"] == 1


async def test_dead_host_costs_one_attempt_per_pass(tmp_path: Path) -> None:
    root = make_devices(tmp_path / "node", ("sda",))
    dead = unused_port_address()
    for i in range(3):
        record = PendingUpdate("DELETE", dead, "sdb", 1, "AUTH_a", "c", f"o{i}",
                               {"X-Backend-Type": "container", "X-Timestamp": ts()})
        write_pending(root / "sda", record, TEST_HASH, fsync=False)
    updater = Updater(root, fast_section(concurrency=1), TEST_KEY, fsync=False)
    async with updater.make_client() as client:
        stats = await updater.run_pass(client, once=True)
    assert (stats.sent, stats.failed, stats.deferred) == (1, 1, 2)
    assert len(pending(root / "sda")) == 3


def test_classify() -> None:
    record = PendingUpdate("PUT", "h:1", "d", 1, "a", "c", None,
                           {"X-Timestamp": "0000000005.00000", "X-Put-Timestamp": "0000000006.00000"})
    assert classify(201, {}, record) is Outcome.SUCCESS
    assert classify(204, {}, record) is Outcome.SUCCESS
    assert classify(404, {}, record) is Outcome.FAILURE
    assert classify(404, {"X-Backend-Delete-Timestamp": "0000000005.50000"}, record) is Outcome.FAILURE
    assert classify(404, {"X-Backend-Delete-Timestamp": "0000000007.00000"}, record) is Outcome.SUPERSEDED
    assert classify(409, {"X-Backend-Timestamp": "0000000006.00000"}, record) is Outcome.SUPERSEDED
    assert classify(409, {}, record) is Outcome.FAILURE
    assert classify(507, {"X-Backend-Delete-Timestamp": "0000000009.00000"}, record) is Outcome.FAILURE
