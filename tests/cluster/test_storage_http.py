"""HTTP semantics of a real in-process storage daemon that clients of the
proxy see through it: expiry headers that never 500, X-If-Delete-At,
conditional answers that describe the object, title-cased metadata names,
metadata that is not UTF-8, the merged metadata limits of databases, and
listing parameters read as Swift reads them."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from martlet.backend import backend_path

from tests.cluster.conftest import StorageDaemon, signed
from tests.cluster.object_helpers import call, md5, opath, put_object, ts

pytestmark = pytest.mark.cluster


def dbpath(container: str | None = None) -> str:
    return backend_path("sda", 3, "AUTH_a", container)


async def test_x_delete_at_is_validated_and_clamped(storage_daemon: StorageDaemon,
                                                    backend: aiohttp.ClientSession) -> None:
    # beyond ten digits: clamped, never a 500 (msgpack refuses such ints)
    status, _, _ = await put_object(backend, storage_daemon, opath(), b"x", X_Delete_At="1" * 100)
    assert status == 201
    _, headers, _ = await call(backend, storage_daemon, "HEAD", opath())
    assert headers["X-Delete-At"] == "9999999999"
    status, _, _ = await call(backend, storage_daemon, "POST", opath(),
                              {"X-Timestamp": ts(), "X-Delete-At": "9" * 5000})
    assert status == 202
    for bad in ("inf", "-inf", "1e400", "nan", "1.5", "soon"):
        status, _, body = await put_object(backend, storage_daemon, opath(), b"x", X_Delete_At=bad)
        assert (status, body) == (400, b"Non-integer X-Delete-At")
        status, _, _ = await call(backend, storage_daemon, "POST", opath(), {"X-Timestamp": ts(), "X-Delete-At": bad})
        assert status == 400


async def test_x_if_delete_at(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    """The expirer's guarded DELETE: only the object whose X-Delete-At it names."""
    status, _, body = await call(backend, storage_daemon, "DELETE", opath("missing"),
                                 {"X-Timestamp": ts(), "X-If-Delete-At": "bad"})
    assert (status, body) == (400, b"Bad X-If-Delete-At header value")
    status, _, _ = await call(backend, storage_daemon, "DELETE", opath("missing"),
                              {"X-Timestamp": ts(), "X-If-Delete-At": "1700000000"})
    assert status == 404
    when = str(int(time.time()) + 3600)
    await put_object(backend, storage_daemon, opath(), b"x", X_Delete_At=when)
    status, _, body = await call(backend, storage_daemon, "DELETE", opath(),
                                 {"X-Timestamp": ts(), "X-If-Delete-At": str(int(when) + 1)})
    assert (status, body) == (412, b"X-If-Delete-At and X-Delete-At do not match")
    assert (await call(backend, storage_daemon, "HEAD", opath()))[0] == 200
    status, _, _ = await call(backend, storage_daemon, "DELETE", opath(), {"X-Timestamp": ts(), "X-If-Delete-At": when})
    assert status == 204
    # an object without X-Delete-At has 0
    await put_object(backend, storage_daemon, opath("plain"), b"x")
    status, _, _ = await call(backend, storage_daemon, "DELETE", opath("plain"),
                              {"X-Timestamp": ts(), "X-If-Delete-At": "0"})
    assert status == 204


async def test_conditional_answers_describe_the_object(storage_daemon: StorageDaemon,
                                                       backend: aiohttp.ClientSession) -> None:
    body = b"0123456789"
    await put_object(backend, storage_daemon, opath(), body, X_Object_Meta_Color="red")
    for headers, status in (({"If-Match": "nope"}, 412), ({"If-None-Match": md5(body)}, 304),
                            ({"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 412),
                            ({"Range": "bytes=-0"}, 416), ({"Range": "bytes=10-"}, 416)):
        got, answer, _ = await call(backend, storage_daemon, "GET", opath(), headers)
        assert got == status, headers
        assert answer["ETag"] == md5(body)
        assert answer["Accept-Ranges"] == "bytes"
        assert answer["Last-Modified"].endswith("GMT") and answer["X-Timestamp"]
        assert answer["X-Object-Meta-Color"] == "red"
        if status == 416:
            assert answer["Content-Range"] == "bytes */10"


async def test_egregious_ranges_are_416(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    await put_object(backend, storage_daemon, opath(), b"x" * 100_000)
    fine = ",".join(f"{i * 100}-{i * 100 + 9}" for i in range(50))
    status, _, _ = await call(backend, storage_daemon, "GET", opath(), {"Range": "bytes=" + fine})
    assert status == 206
    for egregious in (fine + ",9000-9009", "0-9,5-14,0-99,50-59", ",".join(f"{800 - i * 100}-{800 - i * 100 + 9}" for i in range(8))):
        status, headers, _ = await call(backend, storage_daemon, "GET", opath(), {"Range": "bytes=" + egregious})
        assert (status, headers["Content-Range"]) == (416, "bytes */100000")
    # a suffix of an empty object is the (empty) object
    await put_object(backend, storage_daemon, opath("empty"), b"")
    status, _, got = await call(backend, storage_daemon, "GET", opath("empty"), {"Range": "bytes=-5"})
    assert (status, got) == (200, b"")


async def test_metadata_names_are_title_cased(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    await put_object(backend, storage_daemon, opath(), b"x",
                     **{"x-object-meta-Color": "blUe", "X-Object-Meta-food": "PizZa", "content-disposition": "inline"})
    _, headers, _ = await call(backend, storage_daemon, "HEAD", opath())
    names = set(headers.keys())
    assert {"X-Object-Meta-Color", "X-Object-Meta-Food", "Content-Disposition"} <= names
    assert (headers["X-Object-Meta-Color"], headers["X-Object-Meta-Food"]) == ("blUe", "PizZa")


async def raw_request(daemon: StorageDaemon, head: bytes) -> bytes:
    """Send raw bytes (headers aiohttp's client cannot write); the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
    writer.write(head + b"Host: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_metadata_that_is_not_utf8_is_stored(storage_daemon: StorageDaemon,
                                                   backend: aiohttp.ClientSession) -> None:
    """Bytes that are not UTF-8 are stored as U+FFFD rather than failing the
    write (aiohttp can only send text back)."""
    signature = "".join(f"{k}: {v}\r\n" for k, v in signed("PUT", opath()).items())
    head = (f"PUT {opath()} HTTP/1.1\r\nX-Timestamp: {ts()}\r\nContent-Length: 0\r\n{signature}".encode()
            + b"X-Object-Meta-Name: caf\xc3\r\n")
    answer = await raw_request(storage_daemon, head)
    assert answer.startswith(b"HTTP/1.1 201")
    _, headers, _ = await call(backend, storage_daemon, "HEAD", opath())
    assert headers["X-Object-Meta-Name"] == "caf\ufffd"


async def test_database_metadata_limits_apply_to_the_merged_total(storage_daemon: StorageDaemon,
                                                                  backend: aiohttp.ClientSession) -> None:
    """Each POST fits the limits alone; together they would not (Swift's
    validate_metadata): the one that would cross them is a 400 and changes nothing."""
    for path, kind in ((dbpath(), "Account"), (dbpath("c"), "Container")):
        assert (await call(backend, storage_daemon, "PUT", path, {"X-Timestamp": ts()}))[0] == 201
        first = {f"X-{kind}-Meta-A{i:02d}": "v" for i in range(50)}
        assert (await call(backend, storage_daemon, "POST", path, {"X-Timestamp": ts(), **first}))[0] == 204
        second = {f"X-{kind}-Meta-B{i:02d}": "v" for i in range(41)}  # 91 in all
        status, _, body = await call(backend, storage_daemon, "POST", path, {"X-Timestamp": ts(), **second})
        assert (status, body) == (400, b"Too many metadata items; max 90")
        # replacing and removing keys is judged on the result
        removals = {f"X-{kind}-Meta-A{i:02d}": "" for i in range(10)}
        assert (await call(backend, storage_daemon, "POST", path, {"X-Timestamp": ts(), **removals}))[0] == 204
        assert (await call(backend, storage_daemon, "POST", path, {"X-Timestamp": ts(), **second}))[0] == 204
        _, headers, _ = await call(backend, storage_daemon, "HEAD", path)
        assert sum(1 for name in headers if name.startswith(f"X-{kind}-Meta-")) == 81
        for i in range(9):  # up to 90, one POST at a time
            one = {f"X-{kind}-Meta-C{i}": "v"}
            assert (await call(backend, storage_daemon, "POST", path, {"X-Timestamp": ts(), **one}))[0] == 204
        status, _, body = await call(backend, storage_daemon, "POST", path,
                                     {"X-Timestamp": ts(), f"X-{kind}-Meta-C9": "v"})
        assert (status, body) == (400, b"Too many metadata items; max 90")


async def test_database_metadata_size_total(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    path = dbpath("sized")
    assert (await call(backend, storage_daemon, "PUT", path, {"X-Timestamp": ts()}))[0] == 201
    for i in range(15):  # 15 x (3 + 256) = 3885 bytes
        posted = {f"X-Container-Meta-K{i:02d}": "v" * 256}
        assert (await call(backend, storage_daemon, "POST", path, {"X-Timestamp": ts(), **posted}))[0] == 204
    status, _, body = await call(backend, storage_daemon, "POST", path,
                                 {"X-Timestamp": ts(), "X-Container-Meta-K15": "v" * 256})
    assert (status, body) == (400, b"Total metadata too large; max 4096")


async def test_listing_types_and_parameters(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    path = dbpath("c")
    assert (await call(backend, storage_daemon, "PUT", path, {"X-Timestamp": ts()}))[0] == 201
    for query, ctype in (("", "text/plain"), ("?format=json", "application/json"), ("?format=xml", "application/xml")):
        for method in ("HEAD", "GET"):
            status, headers, _ = await call(backend, storage_daemon, method, path + query)
            if status == 204:
                assert headers["Content-Type"] == f"{ctype}; charset=utf-8", (method, query)
    # a limit that is not ASCII digits is ignored ('\u00b2'.isdigit() is true); NUL in markers is fine
    for query in ("?limit=%C2%B2", "?limit=5000.0", "?marker=a%00", "?end_marker=%00&reverse=on"):
        assert (await call(backend, storage_daemon, "GET", path + query))[0] == 204, query
