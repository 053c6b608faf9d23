"""The container server of a real storage daemon, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import count
from xml.etree import ElementTree

import aiohttp
import pytest

from martlet.backend import backend_path
from martlet.timestamp import Timestamp
from storage.db import db_path

pytestmark = pytest.mark.cluster

_clock = count(1)


def ts() -> str:
    """Strictly increasing timestamps, independent of the wall clock."""
    return Timestamp(170_000_000_000_000 + next(_clock) * 100).internal


async def call(
    session: aiohttp.ClientSession,
    daemon: object,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    data: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    url = daemon.url(path)  # type: ignore[attr-defined]
    async with session.request(
        method, url, headers=dict(headers or {}), params=dict(query or {}), data=data
    ) as resp:
        return resp.status, dict(resp.headers), await resp.read()


def cpath(container: str = "c", obj: str | None = None, account: str = "AUTH_a") -> str:
    return backend_path("sda", 3, account, container, obj)


async def put_row(
    session, daemon, name: str, size: int = 1, container: str = "c", account: str = "AUTH_a"
) -> int:
    status, _, _ = await call(
        session,
        daemon,
        "PUT",
        cpath(container, name, account),
        {
            "X-Backend-Type": "container",
            "X-Timestamp": ts(),
            "X-Size": str(size),
            "X-Content-Type": "text/plain",
            "X-Etag": "d41d8cd98f00b204e9800998ecf8427e",
        },
    )
    return status


async def test_container_lifecycle(storage_daemon, backend) -> None:
    d = storage_daemon
    assert (await call(backend, d, "HEAD", cpath()))[0] == 404
    status, _, _ = await call(backend, d, "PUT", cpath(), {"X-Timestamp": ts()})
    assert status == 201
    # The database sits at containers/<part>/<suffix>/<hash>/<hash>.db, nothing left in tmp/.
    path = db_path(d.devices_root, "sda", "container", 3, "AUTH_a", "c", hash_settings=d.config.cluster.hash)
    assert path.is_file() and list((d.device_path("sda") / "tmp").iterdir()) == []
    assert (await call(backend, d, "PUT", cpath(), {"X-Timestamp": ts()}))[0] == 202
    status, headers, _ = await call(backend, d, "HEAD", cpath())
    assert status == 204
    assert headers["X-Container-Object-Count"] == "0" and headers["X-Container-Bytes-Used"] == "0"
    assert (await call(backend, d, "GET", cpath()))[0] == 204  # empty plain listing
    status, _, body = await call(backend, d, "GET", cpath(), query={"format": "json"})
    assert status == 200 and json.loads(body) == []
    assert (await call(backend, d, "DELETE", cpath(), {"X-Timestamp": ts()}))[0] == 204
    status, headers, _ = await call(backend, d, "HEAD", cpath())
    assert status == 404 and "X-Backend-Delete-Timestamp" in headers
    assert (await call(backend, d, "DELETE", cpath(), {"X-Timestamp": ts()}))[0] == 404
    # A newer PUT brings it back: 201, as for a new container.
    assert (await call(backend, d, "PUT", cpath(), {"X-Timestamp": ts()}))[0] == 201


async def test_put_older_than_delete_conflicts(storage_daemon, backend) -> None:
    d = storage_daemon
    old = ts()
    await call(backend, d, "PUT", cpath(), {"X-Timestamp": ts()})
    await call(backend, d, "DELETE", cpath(), {"X-Timestamp": ts()})
    assert (await call(backend, d, "PUT", cpath(), {"X-Timestamp": old}))[0] == 409


async def test_delete_non_empty_is_409(storage_daemon, backend) -> None:
    d = storage_daemon
    await call(backend, d, "PUT", cpath(), {"X-Timestamp": ts()})
    assert await put_row(backend, d, "o") == 201
    status, _, body = await call(backend, d, "DELETE", cpath(), {"X-Timestamp": ts()})
    assert status == 409 and b"not empty" in body
    await call(backend, d, "DELETE", cpath("c", "o"), {"X-Backend-Type": "container", "X-Timestamp": ts()})
    assert (await call(backend, d, "DELETE", cpath(), {"X-Timestamp": ts()}))[0] == 204


async def test_bad_requests_are_4xx(storage_daemon, backend) -> None:
    d = storage_daemon
    assert (await call(backend, d, "PUT", cpath()))[0] == 400  # no X-Timestamp
    assert (await call(backend, d, "PUT", cpath(), {"X-Timestamp": "soon"}))[0] == 400
    await call(backend, d, "PUT", cpath(), {"X-Timestamp": ts()})
    status, _, _ = await call(
        backend, d, "PUT", cpath("c", "o"), {"X-Backend-Type": "container", "X-Timestamp": ts(), "X-Size": "x"}
    )
    assert status == 400
    assert (await call(backend, d, "GET", cpath(), query={"limit": "10001"}))[0] == 412
    assert (await call(backend, d, "GET", cpath(), headers={"Accept": "image/png"}))[0] == 406
    # A row update for a container that does not exist here.
    assert await put_row(backend, d, "o", container="nope") == 404


async def test_metadata_newest_wins_and_removal(storage_daemon, backend) -> None:
    d = storage_daemon
    first, older, newer = ts(), ts(), ts()
    await call(backend, d, "PUT", cpath(), {"X-Timestamp": first, "X-Container-Meta-Color": "red"})
    status, _, _ = await call(
        backend, d, "POST", cpath(),
        {"X-Timestamp": newer, "X-Container-Meta-Color": "blue", "X-Container-Read": ".r:*",
         "X-Container-Write": "AUTH_b"},
    )
    assert status == 204
    # An older POST arriving late changes nothing.
    await call(backend, d, "POST", cpath(), {"X-Timestamp": older, "X-Container-Meta-Color": "green"})
    _, headers, _ = await call(backend, d, "HEAD", cpath())
    assert headers["X-Container-Meta-Color"] == "blue" and headers["X-Container-Read"] == ".r:*"
    assert headers["X-Container-Write"] == "AUTH_b"
    await call(backend, d, "POST", cpath(), {"X-Timestamp": ts(), "X-Remove-Container-Meta-Color": "x"})
    _, headers, _ = await call(backend, d, "HEAD", cpath())
    assert "X-Container-Meta-Color" not in headers
    assert (await call(backend, d, "POST", cpath("other"), {"X-Timestamp": ts()}))[0] == 404


async def test_stats_follow_object_writes(storage_daemon, backend) -> None:
    """Real object PUT/DELETE through the object server update the container."""
    d = storage_daemon
    await call(backend, d, "PUT", cpath(), {"X-Timestamp": ts()})
    target = {"X-Container-Host": d.host, "X-Container-Device": "sda", "X-Container-Partition": "3"}
    for name, body in (("a.txt", b"hello"), ("b/c.txt", b"worlds!")):
        status, _, _ = await call(
            backend, d, "PUT", backend_path("sdb", 9, "AUTH_a", "c", name),
            {**target, "X-Timestamp": ts(), "Content-Type": "text/plain", "Content-Length": str(len(body))},
            data=body,
        )
        assert status == 201
    _, headers, _ = await call(backend, d, "HEAD", cpath())
    assert (headers["X-Container-Object-Count"], headers["X-Container-Bytes-Used"]) == ("2", "12")
    _, _, body = await call(backend, d, "GET", cpath(), query={"format": "json"})
    listing = json.loads(body)
    assert [e["name"] for e in listing] == ["a.txt", "b/c.txt"]
    assert listing[0]["bytes"] == 5 and listing[0]["hash"] == "5d41402abc4b2a76b9719d911017c592"
    assert listing[0]["content_type"] == "text/plain"
    status, _, _ = await call(
        backend, d, "DELETE", backend_path("sdb", 9, "AUTH_a", "c", "a.txt"), {**target, "X-Timestamp": ts()}
    )
    assert status == 204
    _, headers, _ = await call(backend, d, "HEAD", cpath())
    assert (headers["X-Container-Object-Count"], headers["X-Container-Bytes-Used"]) == ("1", "7")


async def test_out_of_order_row_updates(storage_daemon, backend) -> None:
    d = storage_daemon
    await call(backend, d, "PUT", cpath(), {"X-Timestamp": ts()})
    early, late = ts(), ts()
    row = {"X-Backend-Type": "container", "X-Size": "3", "X-Content-Type": "a/b", "X-Etag": "e"}
    assert (await call(backend, d, "DELETE", cpath("c", "o"), {"X-Backend-Type": "container", "X-Timestamp": late}))[0] == 204
    # The PUT it deleted arrives afterwards and twice: still accepted, still deleted.
    for _ in range(2):
        assert (await call(backend, d, "PUT", cpath("c", "o"), {**row, "X-Timestamp": early}))[0] == 201
    _, headers, _ = await call(backend, d, "HEAD", cpath())
    assert headers["X-Container-Object-Count"] == "0"


async def test_listing_parameters_over_http(storage_daemon, backend) -> None:
    d = storage_daemon
    await call(backend, d, "PUT", cpath(), {"X-Timestamp": ts()})
    names = ["a", "b/1", "b/2", "c", "é", "日本/x", "\U0001f600"]
    for name in names:
        await put_row(backend, d, name)

    async def plain(**query: str) -> list[str]:
        status, _, body = await call(backend, d, "GET", cpath(), query=query)
        return [] if status == 204 else body.decode().splitlines()

    assert await plain() == names
    assert await plain(delimiter="/") == ["a", "b/", "c", "é", "日本/", "\U0001f600"]
    assert await plain(prefix="b/") == ["b/1", "b/2"]
    assert await plain(marker="c", end_marker="\U0001f600") == ["é", "日本/x"]
    assert await plain(limit="2", reverse="true") == ["\U0001f600", "日本/x"]
    assert await plain(path="b") == ["b/1", "b/2"]
    status, headers, body = await call(backend, d, "GET", cpath(), query={"delimiter": "/"},
                                       headers={"Accept": "application/xml"})
    assert status == 200 and headers["Content-Type"].startswith("application/xml")
    root = ElementTree.fromstring(body)
    assert root.get("name") == "c" and root.find("subdir").get("name") == "b/"
    status, headers, body = await call(backend, d, "GET", cpath(), query={"format": "json", "prefix": "é"})
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(body)[0]["name"] == "é"
    assert (await call(backend, d, "GET", cpath(), query={"prefix": "zzz"}))[0] == 204
