"""The proxy's HTTP semantics as Swift's clients see them, against a real
cluster: path statuses, methods, framing, content types, the headers every
answer carries, listing parameters, expiry headers and metadata."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import quote, urlsplit

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("proxy-http")

HTML = "text/html; charset=UTF-8"


def storage_path(cluster: RunningCluster) -> tuple[str, str]:
    """(/v1/AUTH_test path of the user's account, token)."""
    url, token = cluster.auth()
    return urlsplit(url).path, token


def raw(cluster: RunningCluster, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send a request as raw bytes (what requests and http.client would
    quote or refuse); one answer, then the connection is closed."""
    with socket.create_connection(("127.0.0.1", cluster.spec.proxy_port), timeout=10) as sock:
        sock.sendall(head + b"Host: x\r\nConnection: close\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, rest


def call(cluster: RunningCluster, method: str, path: str, token: bool = True, **kwargs) -> requests.Response:
    base, tok = storage_path(cluster)
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["X-Auth-Token"] = tok
    url = cluster.proxy + (path if path.startswith("/") and not path.startswith("/c") else f"{base}/{path}")
    return requests.request(method, url, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def box(cluster: RunningCluster) -> str:
    assert call(cluster, "PUT", "box").status_code in (201, 202)
    assert call(cluster, "PUT", "box/obj", data=b"0123456789").status_code == 201
    return "box"


def test_path_statuses_as_swift(cluster: RunningCluster) -> None:
    account, _ = storage_path(cluster)
    for path, status, body in (
        ("/info%20asdf", 412, b"Bad URL"),
        ("/v1", 412, b"Bad URL"),
        ("/v1//testc/testo", 404, None),
        ("/v1/testa//testo", 404, None),
        ("/v1///testo", 404, None),
        (f"{account}/abc%00def", 412, b"Invalid UTF8 or contains NULL"),
        (f"{account}/abc%FFdef/o", 412, b"Invalid UTF8 or contains NULL"),
        ("/v2/AUTH_test", 400, None),
    ):
        answer = call(cluster, "PUT" if path == "/v1" else "GET", path)
        assert answer.status_code == status, path
        if body is not None:
            assert answer.content == body
        assert answer.headers["Content-Type"] == HTML
        assert answer.headers["X-Trans-Id"].startswith("tx")
        assert answer.headers["X-Openstack-Request-Id"] == answer.headers["X-Trans-Id"]
    # the fixed routes keep their methods
    assert requests.request("PATCH", f"{cluster.proxy}/healthcheck", timeout=10).status_code == 405


def test_raw_utf8_in_the_request_line(cluster: RunningCluster) -> None:
    account, token = storage_path(cluster)
    name = "caf\u00e9 \u2603?"
    head = f"PUT {account}/{name} HTTP/1.1\r\nX-Auth-Token: {token}\r\nContent-Length: 0\r\n".encode()
    status, headers, _ = raw(cluster, head.replace(b" \xe2\x98\x83?", b"\xe2\x98\x83"))
    assert status in (201, 202) and headers["x-trans-id"]
    listing = call(cluster, "GET", "", params={"format": "json", "prefix": "caf"}).json()
    assert [c["name"] for c in listing] == ["caf\u00e9\u2603"]
    obj = f"PUT {account}/caf\u00e9\u2603/d\u00e9j\u00e0 vu?.txt HTTP/1.1\r\nX-Auth-Token: {token}\r\nContent-Length: 2\r\n"
    status, _, _ = raw(cluster, obj.encode().replace(b" vu?", b"%20vu%3F"), b"hi")
    assert status == 201
    assert call(cluster, "GET", quote("caf\u00e9\u2603/d\u00e9j\u00e0 vu?.txt")).content == b"hi"
    # raw bytes that are not UTF-8: Swift's 412
    status, _, body = raw(cluster, f"GET {account}/".encode() + b"\xff\xfe HTTP/1.1\r\n" + f"X-Auth-Token: {token}\r\n".encode())
    assert (status, body) == (412, b"Invalid UTF8 or contains NULL")


def test_unknown_methods_are_405_with_allow(cluster: RunningCluster, box: str) -> None:
    for path, allow in (("", "GET, HEAD, OPTIONS, POST"), ("box", "DELETE, GET, HEAD, OPTIONS, POST, PUT"),
                        ("box/obj", "DELETE, GET, HEAD, OPTIONS, POST, PUT")):
        for method in ("LICK", "GETorHEAD_base"):
            answer = call(cluster, method, path)
            assert (answer.status_code, answer.headers["Allow"]) == (405, allow), (method, path)
        # before authorization, as Swift: it reveals nothing
        assert call(cluster, "LICK", path, token=False).status_code == 405
    assert call(cluster, "PUT", "").status_code == 405  # no account management


def test_framing_of_object_puts(cluster: RunningCluster, box: str) -> None:
    account, token = storage_path(cluster)
    head = f"PUT {account}/box/framed HTTP/1.1\r\nX-Auth-Token: {token}\r\n".encode()
    # no length, and the body follows anyway: 411 (not a 400 for the body bytes)
    assert raw(cluster, head, b"testing")[0] == 411
    assert raw(cluster, head + b"Transfer-Encoding: gzip,chunked\r\n", b"0\r\n\r\n")[0] == 501
    # several codings and a body that is not chunks, sent with the headers
    # in one write (the parser must not read it as chunks and answer 400)
    assert raw(cluster, head + b"Transfer-Encoding: gzip,chunked\r\n", b"\xff" * 100)[0] == 501
    assert raw(cluster, head + b"Transfer-Encoding: chunked, gzip\r\n", b"\xff" * 100)[0] == 501
    assert raw(cluster, head + b"Transfer-Encoding: gzip\r\n")[0] == 400
    assert raw(cluster, head + b"Content-Length: X\r\n")[0] == 400
    assert call(cluster, "HEAD", "box/framed").status_code == 404


def test_content_types_of_bodiless_answers(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "PUT", "empty-box").status_code in (201, 202)
    for path in ("empty-box",):
        for method in ("GET", "HEAD"):
            answer = call(cluster, method, path)
            assert answer.status_code == 204
            assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert answer.headers["Content-Length"] == "0"
        answer = call(cluster, "HEAD", path, params={"format": "json"})
        assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert call(cluster, "PUT", "box/gone", data=b"x").status_code == 201
    answer = call(cluster, "DELETE", "box/gone")
    assert (answer.status_code, answer.headers["Content-Type"]) == (204, HTML)
    answer = call(cluster, "DELETE", "box/gone")
    assert (answer.status_code, answer.headers["Content-Type"]) == (404, HTML)
    answer = call(cluster, "PUT", "x" * 257)
    assert (answer.status_code, answer.headers["Content-Type"]) == (400, HTML)


def test_www_authenticate_on_401(cluster: RunningCluster) -> None:
    hax = 'AUTH_haxx"\nContent-Length: 13\n\n<b>Hello World'
    answer = requests.get(f"{cluster.proxy}/v1/{quote(hax)}", timeout=10)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == f'Swift realm="{quote(hax)}"'
    bad = requests.get(f"{cluster.proxy}/auth/v1.0", headers={"X-Auth-User": "test:tester", "X-Auth-Key": "no"},
                       timeout=10)
    assert bad.headers["WWW-Authenticate"] == 'Swift realm="unknown"'


def test_connection_keep_alive_is_echoed(cluster: RunningCluster, box: str) -> None:
    account, token = storage_path(cluster)
    head = f"GET {account}/box/obj HTTP/1.1\r\nX-Auth-Token: {token}\r\nHost: x\r\n".encode()
    with socket.create_connection(("127.0.0.1", cluster.spec.proxy_port), timeout=10) as sock:
        sock.sendall(head + b"\r\n" + head + b"Connection: keep-alive\r\n\r\n")
        data = b""
        while data.count(b"0123456789") < 2:
            data += sock.recv(65536)
    first, second = data.split(b"0123456789")[:2]
    assert b"\r\nconnection:" not in first.lower()
    assert b"\r\nconnection: keep-alive\r\n" in second.lower()


def test_listing_parameters(cluster: RunningCluster, box: str) -> None:
    for query in ("limit=%C2%B2", "limit=5000.0", "limit=abc", "marker=obj%00", "end_marker=%00&reverse=on"):
        for path in ("", "box"):
            assert call(cluster, "GET", f"{path}?{query}").status_code in (200, 204), (path, query)
    assert call(cluster, "GET", "box?marker=obj%00").status_code == 204  # nothing after "obj\0"
    assert call(cluster, "GET", "box?limit=10001").status_code == 412
    answer = call(cluster, "GET", "box?marker=%FF")
    assert (answer.status_code, answer.content) == (400, b'"marker" parameter not valid UTF-8')


def test_expiry_headers(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "PUT", "box/far", data=b"x", headers={"X-Delete-At": "1" * 100}).status_code == 201
    assert call(cluster, "HEAD", "box/far").headers["X-Delete-At"] == "9999999999"
    for bad in ("inf", "-inf", "1e400", "1.5"):
        answer = call(cluster, "PUT", "box/far", data=b"x", headers={"X-Delete-At": bad})
        assert (answer.status_code, answer.content) == (400, b"Non-integer X-Delete-At")
        assert call(cluster, "POST", "box/far", headers={"X-Delete-After": bad}).status_code == 400
    assert call(cluster, "PUT", "box/far", data=b"x", headers={"X-Delete-At": "1"}).status_code == 400
    # X-If-Delete-At, judged by each replica
    assert call(cluster, "DELETE", "box/missing", headers={"X-If-Delete-At": "bad"}).status_code == 400
    when = str(int(time.time()) + 3600)
    assert call(cluster, "PUT", "box/expiring", data=b"x", headers={"X-Delete-At": when}).status_code == 201
    answer = call(cluster, "DELETE", "box/expiring", headers={"X-If-Delete-At": str(int(when) + 1)})
    assert answer.status_code == 412
    assert call(cluster, "DELETE", "box/expiring", headers={"X-If-Delete-At": when}).status_code == 204


def test_conditional_answers_carry_the_object_headers(cluster: RunningCluster, box: str) -> None:
    etag = call(cluster, "HEAD", "box/obj").headers["ETag"]
    for headers, status in (({"If-Match": "nope"}, 412), ({"If-None-Match": etag}, 304), ({"Range": "bytes=-0"}, 416)):
        answer = call(cluster, "GET", "box/obj", headers=headers)
        assert answer.status_code == status
        assert answer.headers["ETag"] == etag and answer.headers["Accept-Ranges"] == "bytes"
        assert answer.headers["Last-Modified"].endswith("GMT")
    egregious = ",".join(f"{i}-{i}" for i in range(0, 10, 1)) + ",0-9,0-9,0-9"
    assert call(cluster, "GET", "box/obj", headers={"Range": "bytes=" + egregious}).status_code == 416


def test_metadata(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "PUT", "box/meta", data=b"x",
                headers={"x-object-meta-Color": "blUe", "X-Object-Meta-food": "PizZa"}).status_code == 201
    answer = call(cluster, "HEAD", "box/meta")
    names = {k for k in answer.raw.headers.keys() if k.lower().startswith("x-object-meta-")}
    assert names == {"X-Object-Meta-Color", "X-Object-Meta-Food"}
    # not UTF-8: stored for an object (its bad bytes as U+FFFD), 400 for a container, never a 500
    account, token = storage_path(cluster)
    head = f"PUT {account}/box/latin HTTP/1.1\r\nX-Auth-Token: {token}\r\nContent-Length: 0\r\n".encode()
    assert raw(cluster, head + b"X-Object-Meta-Name: caf\xe9\r\n")[0] == 201
    assert call(cluster, "HEAD", "box/latin").headers["X-Object-Meta-Name"] == "caf\ufffd".encode().decode("latin-1")
    head = f"POST {account}/box HTTP/1.1\r\nX-Auth-Token: {token}\r\n".encode()
    status, _, body = raw(cluster, head + b"X-Container-Meta-Name: caf\xe9\r\n")
    assert (status, body) == (400, b"Metadata must be valid UTF-8")
    # the limits hold for the merged total, whatever the number of POSTs
    for kind, path in (("Container", "box"), ("Account", "")):
        for start in range(0, 90, 30):
            batch = {f"X-{kind}-Meta-K{i:02d}": "v" for i in range(start, start + 30)}
            assert call(cluster, "POST", path, headers=batch).status_code == 204
        assert call(cluster, "POST", path, headers={f"X-{kind}-Meta-One-More": "v"}).status_code == 400


def test_deeply_nested_manifest_is_a_400(cluster: RunningCluster, box: str) -> None:
    for body in (b"[" * 200_000, b'{"a":' * 100_000):
        answer = call(cluster, "PUT", "box/slo", params={"multipart-manifest": "put"}, data=body)
        assert answer.status_code == 400
    assert json.loads(call(cluster, "GET", "box", params={"format": "json"}).content)  # still serving


@pytest.mark.parametrize("announced,sent", [(100, 40), (200_000, 100_000)])
def test_a_client_that_sends_less_than_its_length_stores_nothing(
    cluster: RunningCluster, box: str, announced: int, sent: int
) -> None:
    # small bodies are read whole before the replicas are asked, larger ones
    # stream to them: either way no replica may commit a short body
    account, token = storage_path(cluster)
    name = f"short-{announced}"
    head = (f"PUT {account}/box/{name} HTTP/1.1\r\nX-Auth-Token: {token}\r\nHost: x\r\n"
            f"Content-Length: {announced}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", cluster.spec.proxy_port), timeout=30) as sock:
        sock.sendall(head + b"x" * sent)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert not answer.startswith(b"HTTP/1.1 201")
    assert call(cluster, "HEAD", f"box/{name}").status_code == 404
