"""The shared middlewares, exercised through a real aiohttp server on port 0."""

import json
import logging

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from martlet.backend import backend_path, backend_request, make_session
from martlet.backend_auth import BackendKey
from martlet.errors import Conflict, NotFound
from martlet.http import BACKEND_ONLY, REPLICATE_HEADER, STANDARD_MIDDLEWARES, on_wire, verb_of
from martlet.logs import StructuredFormatter, trans_id_var

KEY = BackendKey.from_secret("test")


async def conflict(request: web.Request) -> web.Response:
    raise Conflict("too late", headers={"X-Backend-Timestamp": "1.00000"})


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals")


async def echo(request: web.Request) -> web.Response:
    logging.getLogger("test.echo").info("inside")
    return web.json_response(
        {"trans_id": trans_id_var.get(), "path": request.rel_url.raw_path, "match": dict(request.match_info)}
    )


async def headers_of(request: web.Request) -> web.Response:
    return web.json_response(dict(request.headers))


async def missing(request: web.Request) -> web.Response:
    raise NotFound()


@pytest.fixture
async def server():
    app = web.Application(middlewares=STANDARD_MIDDLEWARES)
    app.router.add_put("/conflict", conflict)
    app.router.add_get("/boom", boom)
    app.router.add_route("HEAD", "/missing", missing)
    app.router.add_route("*", "/headers", headers_of)
    app.router.add_get("/{device}/{part}/{account}/{container}/{obj:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield port
    await runner.cleanup()


async def test_domain_error_maps_to_status_with_headers(server: int) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.put(f"http://127.0.0.1:{server}/conflict") as resp:
            assert resp.status == 409
            assert await resp.text() == "too late"
            assert resp.headers["X-Backend-Timestamp"] == "1.00000"
            assert resp.headers["X-Trans-Id"].startswith("tx")


async def test_unexpected_error_is_a_bare_500(server: int) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{server}/boom") as resp:
            assert resp.status == 500
            assert "secret" not in await resp.text()


async def test_head_error_has_no_body(server: int) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.head(f"http://127.0.0.1:{server}/missing") as resp:
            assert resp.status == 404
            # A HEAD answer announces the length a GET would send; the error
            # response must be built without its reason text.
            assert resp.headers.get("Content-Length", "0") == "0"


async def test_backend_request_quotes_names_and_carries_trans_id(server: int) -> None:
    obj = "dir/ü ?#%.txt"
    path = backend_path("d1", 7, "AUTH_a", "c c", obj)
    assert path == "/d1/7/AUTH_a/c%20c/dir/%C3%BC%20%3F%23%25.txt"
    token = trans_id_var.set("tx-test-123")
    try:
        session = make_session(KEY)
        async with session:
            resp = await backend_request(session, "127.0.0.1", server, "GET", path)
            async with resp:
                body = json.loads(await resp.text())
    finally:
        trans_id_var.reset(token)
    assert body["trans_id"] == "tx-test-123"
    assert body["match"] == {"device": "d1", "part": "7", "account": "AUTH_a", "container": "c c", "obj": obj}


def test_structured_formatter_carries_extras_and_trans_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("w",), None)
    record.status = 201
    token = trans_id_var.set("tx-abc")
    try:
        line = json.loads(StructuredFormatter().format(record))
    finally:
        trans_id_var.reset(token)
    assert line["msg"] == "hello w"
    assert line["status"] == 201
    assert line["trans_id"] == "tx-abc"


async def test_access_log_line_has_method_status_and_trans_id(server: int) -> None:
    lines: list[dict] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(StructuredFormatter().format(record)))

    handler = Capture()
    access = logging.getLogger("martlet.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.put(f"http://127.0.0.1:{server}/conflict", headers={"X-Trans-Id": "tx-log"}) as resp:
                assert resp.status == 409
    finally:
        access.removeHandler(handler)
    [line] = [entry for entry in lines if entry["trans_id"] == "tx-log"]
    assert line["method"] == "PUT"
    assert line["status"] == 409
    assert line["path"] == "/conflict"
    assert line["duration_ms"] >= 0


async def test_backend_request_never_invents_a_content_type(server: int) -> None:
    """A bodiless backend POST without Content-Type means "keep the object's
    type"; aiohttp would otherwise add application/octet-stream."""
    async with make_session(KEY) as session:
        for method in ("POST", "PUT"):
            resp = await backend_request(session, "127.0.0.1", server, method, "/headers")
            async with resp:
                sent = await resp.json()
            assert "Content-Type" not in sent, method
        resp = await backend_request(
            session, "127.0.0.1", server, "POST", "/headers", headers={"Content-Type": "text/plain"}
        )
        async with resp:
            assert (await resp.json())["Content-Type"] == "text/plain"


def test_raw_path_bytes_and_header_text() -> None:
    """What aiohttp's parser hands over (UTF-8 with surrogate escapes) back
    to the bytes sent, and made fit to send again."""
    from martlet.http import header_text, raw_path_bytes

    assert raw_path_bytes("/v1/a/\u2603/%FF%20x") == b"/v1/a/\xe2\x98\x83/\xff x"
    assert raw_path_bytes("/v1/\udcff") == b"/v1/\xff"
    assert header_text("plain") == "plain"
    assert header_text("caf\u00e9") == "caf\u00e9"
    assert header_text("caf\udcc3") == "caf\ufffd"


def test_a_replicate_goes_as_a_post_and_only_a_backend_app_reads_it_back() -> None:
    headers: dict[str, str] = {}
    assert on_wire("REPLICATE", headers) == "POST" and headers == {REPLICATE_HEADER: "true"}
    assert on_wire("PUT", {}) == "PUT"
    backend, edge = web.Application(), web.Application()
    backend[BACKEND_ONLY] = True
    assert verb_of(make_mocked_request("POST", "/sda/3", headers=headers, app=backend)) == "REPLICATE"
    assert verb_of(make_mocked_request("GET", "/sda/3", headers=headers, app=backend)) == "GET"
    assert verb_of(make_mocked_request("POST", "/sda/3", app=backend)) == "POST"
    # A client's POST to the proxy is a POST, whatever headers it sends.
    assert verb_of(make_mocked_request("POST", "/v1/a/c/o", headers=headers, app=edge)) == "POST"
