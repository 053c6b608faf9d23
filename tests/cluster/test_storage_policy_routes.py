"""Storage policies on one storage daemon (in process): the policy index
picks the object directories, travels with container updates into
async_pending-N, and containers and accounts keep and report policies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgpack
import pytest

from martlet.backend import backend_path
from martlet.policies import StoragePolicy, build_policies
from storage.async_pending import iter_pending
from tests.cluster.conftest import StorageDaemon, make_devices, start_storage_daemon, unused_port_address
from tests.cluster.object_helpers import call, opath, put_object, ts

pytestmark = pytest.mark.cluster

POLICIES = build_policies([StoragePolicy(0, ("gold",), is_default=True), StoragePolicy(1, ("silver",))])
SILVER = {"X-Backend-Storage-Policy-Index": "1"}


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[StorageDaemon]:
    running = await start_storage_daemon(make_devices(tmp_path / "node"), POLICIES, fsync=False)
    try:
        yield running
    finally:
        await running.stop()


def data_files(daemon: StorageDaemon, objects_dir: str) -> list[Path]:
    return sorted((daemon.device_path("sda") / objects_dir).rglob("*.data"))


async def test_the_policy_index_picks_the_object_directories(
    daemon: StorageDaemon, backend: aiohttp.ClientSession
) -> None:
    status, _, _ = await put_object(backend, daemon, opath("o"), b"silver", **SILVER)
    assert status == 201
    assert len(data_files(daemon, "objects-1")) == 1 and data_files(daemon, "objects") == []
    assert (await call(backend, daemon, "GET", opath("o"), SILVER))[2] == b"silver"
    assert (await call(backend, daemon, "GET", opath("o")))[0] == 404, "policy 0 holds no such object"
    for method in ("POST", "DELETE"):
        assert (await call(backend, daemon, method, opath("o"), {"X-Timestamp": ts(), **SILVER}))[0] in (202, 204)
    # The partition's suffix hashes are per policy too.
    _, _, body = await call(backend, daemon, "REPLICATE", "/sda/3", SILVER)
    assert msgpack.unpackb(body)
    _, _, body = await call(backend, daemon, "REPLICATE", "/sda/3")
    assert msgpack.unpackb(body) == {}


@pytest.mark.parametrize(("index", "status"), [("5", 503), ("one", 400), ("-1", 400)])
async def test_an_index_this_node_does_not_know(
    daemon: StorageDaemon, backend: aiohttp.ClientSession, index: str, status: int
) -> None:
    sent = {"X-Backend-Storage-Policy-Index": index}
    assert (await put_object(backend, daemon, opath("x"), b"x", **sent))[0] == status
    assert (await call(backend, daemon, "GET", opath("x"), sent))[0] == status
    assert list((daemon.device_path("sda")).glob("objects*")) == []


async def test_a_failed_container_update_waits_in_the_policys_async_pending(
    daemon: StorageDaemon, backend: aiohttp.ClientSession
) -> None:
    target = {"X-Container-Host": unused_port_address(), "X-Container-Device": "sdb", "X-Container-Partition": "7"}
    status, _, _ = await call(backend, daemon, "PUT", opath("q"),
                              {"X-Timestamp": ts(), "Content-Length": "1", **target, **SILVER}, b"q")
    assert status == 201
    ((path, record),) = list(iter_pending(daemon.device_path("sda")))
    assert path.parts[-3] == "async_pending-1"
    assert record.policy == 1 and record.headers["X-Backend-Storage-Policy-Index"] == "1"


async def test_a_container_keeps_its_policy_and_reports_it(
    daemon: StorageDaemon, backend: aiohttp.ClientSession
) -> None:
    account = backend_path("sda", 3, "AUTH_a")
    cpath = backend_path("sda", 3, "AUTH_a", "c")
    account_target = {"X-Account-Host": daemon.host, "X-Account-Device": "sda", "X-Account-Partition": "3"}
    assert (await call(backend, daemon, "PUT", account, {"X-Timestamp": ts()}))[0] == 201
    created = await call(backend, daemon, "PUT", cpath, {"X-Timestamp": ts(), **account_target, **SILVER})
    assert created[0] == 201
    status, headers, _ = await call(backend, daemon, "HEAD", cpath)
    assert (status, headers["X-Storage-Policy"], headers["X-Backend-Storage-Policy-Index"]) == (204, "silver", "1")
    # Another policy: 409, saying which it has; none named: accepted.
    status, headers, _ = await call(backend, daemon, "PUT", cpath,
                                    {"X-Timestamp": ts(), "X-Backend-Storage-Policy-Index": "0"})
    assert (status, headers["X-Backend-Storage-Policy-Index"]) == (409, "1")
    assert (await call(backend, daemon, "PUT", cpath,
                       {"X-Timestamp": ts(), "X-Backend-Storage-Policy-Default": "0"}))[0] == 202
    assert (await call(backend, daemon, "PUT", cpath, {"X-Timestamp": ts(), "X-Backend-Storage-Policy-Index": "4"}
                       ))[0] == 400
    # The container's report made the account's silver totals.
    status, headers, _ = await call(backend, daemon, "HEAD", account)
    assert headers["X-Account-Storage-Policy-silver-Container-Count"] == "1"
    assert "X-Account-Storage-Policy-gold-Container-Count" not in headers
    _, _, body = await call(backend, daemon, "GET", account + "?format=json")
    assert b'"storage_policy": "silver"' in body
