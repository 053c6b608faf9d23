"""The account server of a real storage daemon, over HTTP, and the reports
its containers send it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from martlet.backend import backend_path
from tests.cluster.conftest import StorageDaemon, make_devices, start_storage_daemon
from tests.cluster.test_container_server import call, put_row, ts

pytestmark = pytest.mark.cluster

ACCOUNT = "AUTH_acct"


def apath() -> str:
    return backend_path("sda", 5, ACCOUNT)


def cpath(container: str) -> str:
    return backend_path("sda", 3, ACCOUNT, container)


def rpath(container: str) -> str:
    """A container row of the account: the account's partition."""
    return backend_path("sda", 5, ACCOUNT, container)


@pytest.fixture
async def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StorageDaemon]:
    # Report stats changes quickly: the debounce delay comes from storage.conf's
    # [container-server] section (here through its environment override).
    monkeypatch.setenv("MARTLET_CONTAINER_SERVER_ACCOUNT_UPDATE_DELAY", "0.05")
    started = await start_storage_daemon(make_devices(tmp_path / "node"))
    try:
        yield started
    finally:
        await started.stop()


def account_target(d: StorageDaemon) -> dict[str, str]:
    return {"X-Account-Host": d.host, "X-Account-Device": "sda", "X-Account-Partition": "5"}


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


async def test_account_lifecycle_and_metadata(daemon, backend) -> None:
    d = daemon
    assert (await call(backend, d, "HEAD", apath()))[0] == 404
    assert (await call(backend, d, "GET", apath()))[0] == 404
    status, _, _ = await call(backend, d, "PUT", apath(), {"X-Timestamp": ts(), "X-Account-Meta-Quota": "9"})
    assert status == 201
    assert (await call(backend, d, "PUT", apath(), {"X-Timestamp": ts()}))[0] == 202
    status, headers, _ = await call(backend, d, "HEAD", apath())
    assert status == 204 and headers["X-Account-Meta-Quota"] == "9"
    assert headers["X-Account-Container-Count"] == "0" and headers["X-Account-Bytes-Used"] == "0"
    assert (await call(backend, d, "POST", apath(), {"X-Timestamp": ts(), "X-Account-Meta-Quota": "10"}))[0] == 204
    _, headers, _ = await call(backend, d, "HEAD", apath())
    assert headers["X-Account-Meta-Quota"] == "10"
    assert (await call(backend, d, "GET", apath()))[0] == 204  # no containers, plain
    status, _, body = await call(backend, d, "GET", apath(), query={"format": "json"})
    assert status == 200 and json.loads(body) == []
    assert (await call(backend, d, "DELETE", apath(), {"X-Timestamp": ts()}))[0] == 204
    status, headers, _ = await call(backend, d, "HEAD", apath())
    assert status == 404 and headers["X-Account-Status"] == "Deleted"
    # A report for a deleted account is refused with the proof of deletion.
    status, headers, _ = await call(
        backend, d, "PUT", rpath("c"),
        {"X-Backend-Type": "account", "X-Put-Timestamp": ts(), "X-Delete-Timestamp": "0",
         "X-Object-Count": "0", "X-Bytes-Used": "0"},
    )
    assert status == 404 and "X-Backend-Delete-Timestamp" in headers


async def test_container_reports_reach_the_account(daemon, backend) -> None:
    d = daemon
    await call(backend, d, "PUT", apath(), {"X-Timestamp": ts()})
    for name in ("logs", "photos", "photos/2024"):
        status, _, _ = await call(backend, d, "PUT", cpath(name), {"X-Timestamp": ts(), **account_target(d)})
        assert status == 201
    # Container PUTs are reported before the PUT answers.
    _, headers, _ = await call(backend, d, "HEAD", apath())
    assert headers["X-Account-Container-Count"] == "3"

    for i in range(4):
        assert await put_row(backend, d, f"o{i}", size=10, container="photos", account=ACCOUNT) == 201

    async def stats_reported() -> bool:
        _, headers, _ = await call(backend, d, "HEAD", apath())
        return (headers["X-Account-Object-Count"], headers["X-Account-Bytes-Used"]) == ("4", "40")

    await wait_for(stats_reported)  # debounced report of the object rows
    status, _, body = await call(backend, d, "GET", apath(), query={"format": "json"})
    listing = json.loads(body)
    assert [e["name"] for e in listing] == ["logs", "photos", "photos/2024"]
    assert listing[1]["count"] == 4 and listing[1]["bytes"] == 40
    assert set(listing[0]) == {"name", "count", "bytes", "last_modified", "storage_policy"}
    assert listing[0]["storage_policy"] == "Policy-0"
    status, _, body = await call(backend, d, "GET", apath(), query={"delimiter": "/"})
    assert body.decode().splitlines() == ["logs", "photos", "photos/"]
    status, _, body = await call(backend, d, "GET", apath(), query={"prefix": "p", "reverse": "1"})
    assert body.decode().splitlines() == ["photos/2024", "photos"]

    # Deleting a container removes it from the listing and the counts.
    assert (await call(backend, d, "DELETE", cpath("logs"), {"X-Timestamp": ts()}))[0] == 204
    _, headers, body = await call(backend, d, "GET", apath())
    assert body.decode().splitlines() == ["photos", "photos/2024"]
    assert headers["X-Account-Container-Count"] == "2"


async def test_stale_report_does_not_regress_stats(daemon, backend) -> None:
    d = daemon
    await call(backend, d, "PUT", apath(), {"X-Timestamp": ts()})
    put_ts = ts()
    row = {"X-Backend-Type": "account", "X-Put-Timestamp": put_ts, "X-Delete-Timestamp": "0"}
    fresh = {**row, "X-Object-Count": "5", "X-Bytes-Used": "50", "X-Backend-Stats-Timestamp": ts()}
    stale = {**row, "X-Object-Count": "1", "X-Bytes-Used": "10", "X-Backend-Stats-Timestamp": "1.0"}
    assert (await call(backend, d, "PUT", rpath("c"), fresh))[0] == 201
    assert (await call(backend, d, "PUT", rpath("c"), stale))[0] == 201
    _, headers, _ = await call(backend, d, "HEAD", apath())
    assert (headers["X-Account-Object-Count"], headers["X-Account-Bytes-Used"]) == ("5", "50")
    assert (await call(backend, d, "PUT", rpath("c"), {**row, "X-Object-Count": "x"}))[0] == 400
    assert (await call(backend, d, "DELETE", rpath("c"), {"X-Backend-Type": "account"}))[0] == 405
