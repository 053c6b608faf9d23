"""The proxy's public API over HTTP, status by status, against a real
cluster (four storage daemons, proxy, updater) on ephemeral ports."""

from __future__ import annotations

import hashlib
import http.client
import json
from xml.etree import ElementTree

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture, wait_for

pytestmark = pytest.mark.cluster

MAX_FILE = 1 << 20  # a small max_file_size makes 413 cheap to reach


cluster = cluster_fixture("proxy-api", max_file_size=MAX_FILE)


def call(cluster: RunningCluster, method: str, path: str = "", user: str | None = "test:tester",
         key: str = "testing", headers: dict[str, str] | None = None, **kwargs) -> requests.Response:
    """A request to ``<storage URL of user's account>/path`` (or an absolute /v1 path)."""
    hdrs = dict(headers or {})
    if path.startswith("/"):
        url = cluster.proxy + path
    else:
        base, _ = cluster.auth("test:tester", "testing")
        url = f"{base}/{path}" if path else base
    if user is not None:
        hdrs["X-Auth-Token"] = cluster.auth(user, key)[1]
    return requests.request(method, url, headers=hdrs, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def box(cluster: RunningCluster) -> str:
    """A container with a few objects, shared by the read-only tests."""
    assert call(cluster, "PUT", "box").status_code in (201, 202)
    for name in ("a.txt", "dir/b.json", "dir/c.bin", "other"):
        assert call(cluster, "PUT", f"box/{name}", data=name.encode() * 100).status_code == 201
    return "box"


def test_auth_paths_and_storage_url(cluster: RunningCluster) -> None:
    for path in ("/auth/v1.0", "/auth/v1.0/", "/v1.0"):
        answer = requests.get(cluster.proxy + path, timeout=10,
                              headers={"X-Auth-User": "test:tester", "X-Auth-Key": "testing",
                                       "Host": "storage.example.com:8443"})
        assert answer.status_code == 200
        assert answer.headers["X-Storage-Url"] == "http://storage.example.com:8443/v1/AUTH_test"
        assert answer.headers["X-Auth-Token"] == answer.headers["X-Storage-Token"]
    bad = requests.get(cluster.proxy + "/auth/v1.0", timeout=10,
                       headers={"X-Auth-User": "test:tester", "X-Auth-Key": "wrong"})
    assert bad.status_code == 401


def test_tokens_and_accounts(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "HEAD", "", user=None).status_code == 401
    assert call(cluster, "GET", "", user=None, headers={"X-Auth-Token": "AUTH_tkforged.sig"}).status_code == 401
    assert call(cluster, "GET", "box", user="test2:tester2", key="testing2").status_code == 403
    assert call(cluster, "GET", "box/a.txt", user="test2:tester2", key="testing2").status_code == 403
    # a user without .admin owns nothing without an ACL
    assert call(cluster, "HEAD", "", user="test:tester3", key="testing3").status_code == 403
    # a reseller admin acts on any account
    assert call(cluster, "GET", "box/a.txt", user="admin:admin", key="admin").status_code == 200
    # an account is created on first use by its owner
    url, token = cluster.auth("test2:tester2", "testing2")
    answer = requests.head(url, headers={"X-Auth-Token": token}, timeout=10)
    assert answer.status_code == 204
    assert answer.headers["X-Account-Container-Count"] == "0"


def test_container_acls(cluster: RunningCluster) -> None:
    other = {"user": "test2:tester2", "key": "testing2"}
    assert call(cluster, "PUT", "shared").status_code in (201, 202)
    assert call(cluster, "PUT", "shared/o", data=b"data").status_code == 201
    assert call(cluster, "GET", "shared/o", **other).status_code == 403
    assert call(cluster, "POST", "shared", headers={"X-Container-Read": "test2:tester2",
                                                      "X-Container-Write": "test2"}).status_code == 204
    assert call(cluster, "GET", "shared/o", **other).content == b"data"
    assert call(cluster, "GET", "shared", **other).text.split() == ["o"]
    assert call(cluster, "PUT", "shared/by-other", data=b"x", **other).status_code == 201
    assert call(cluster, "DELETE", "shared", **other).status_code == 403  # never the container
    assert call(cluster, "POST", "shared", headers={"X-Container-Read": ".r:*"}).status_code == 204
    assert call(cluster, "GET", "shared/o", user=None).content == b"data"
    assert call(cluster, "GET", "shared", user=None).status_code == 401  # no .rlistings
    assert call(cluster, "PUT", "shared/anon", user=None, data=b"x").status_code == 401
    assert call(cluster, "POST", "shared", headers={"X-Container-Read": ".r:*,.rlistings"}).status_code == 204
    assert call(cluster, "GET", "shared", user=None).status_code == 200
    assert call(cluster, "POST", "shared", headers={"X-Container-Write": ".r:*"}).status_code == 400


def test_not_found_and_conflict(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "GET", "missing").status_code == 404
    assert call(cluster, "GET", "box/missing").status_code == 404
    assert call(cluster, "PUT", "missing/o", data=b"x").status_code == 404
    assert call(cluster, "DELETE", "box").status_code == 409
    assert call(cluster, "PUT", "empty").status_code in (201, 202)
    assert call(cluster, "DELETE", "empty").status_code == 204
    assert call(cluster, "HEAD", "empty").status_code == 404
    assert call(cluster, "DELETE", "box/missing").status_code == 404


def test_length_required(cluster: RunningCluster, box: str) -> None:
    url, token = cluster.auth()
    conn = http.client.HTTPConnection("127.0.0.1", cluster.spec.proxy_port, timeout=10)
    path = url.split(str(cluster.spec.proxy_port), 1)[1] + "/box/no-length"
    conn.putrequest("PUT", path)
    conn.putheader("X-Auth-Token", token)
    conn.endheaders()
    answer = conn.getresponse()
    assert answer.status == 411
    assert answer.getheader("X-Trans-Id")
    conn.close()


def test_preconditions_ranges_and_etags(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "GET", "box/a.txt", headers={"If-Match": '"nope"'}).status_code == 412
    assert call(cluster, "GET", "box?limit=10001").status_code == 412
    body = b"a.txt" * 100
    etag = hashlib.md5(body).hexdigest()
    assert call(cluster, "GET", "box/a.txt", headers={"If-None-Match": etag}).status_code == 304
    part = call(cluster, "GET", "box/a.txt", headers={"Range": "bytes=5-9"})
    assert part.status_code == 206 and part.content == body[5:10]
    assert call(cluster, "GET", "box/a.txt", headers={"Range": "bytes=100000-"}).status_code == 416
    bad = call(cluster, "PUT", "box/etagged", data=b"hello", headers={"ETag": "0" * 32})
    assert bad.status_code == 422
    assert call(cluster, "HEAD", "box/etagged").status_code == 404  # nothing half-written
    good = call(cluster, "PUT", "box/etagged", data=b"hello", headers={"ETag": hashlib.md5(b"hello").hexdigest()})
    assert good.status_code == 201 and good.headers["ETag"] == hashlib.md5(b"hello").hexdigest()


def test_too_large(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "PUT", "box/big", headers={"Content-Length": str(MAX_FILE + 1)},
                data=b"").status_code == 413

    def chunks():
        for _ in range(MAX_FILE // 65536 + 2):
            yield b"x" * 65536

    try:
        status = call(cluster, "PUT", "box/big-chunked", data=chunks()).status_code
    except requests.ConnectionError:
        status = 413  # the proxy may answer and close before the upload ends
    assert status == 413
    assert call(cluster, "HEAD", "box/big-chunked").status_code == 404


def test_bad_requests(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "PUT", "box/" + "o" * 1025, data=b"").status_code == 400
    assert call(cluster, "PUT", "c" * 257).status_code == 400
    assert call(cluster, "GET", "box/%FF").status_code == 412  # Swift: "Invalid UTF8 or contains NULL"
    too_many = {f"X-Object-Meta-K{i}": "v" for i in range(91)}
    assert call(cluster, "PUT", "box/meta", data=b"", headers=too_many).status_code == 400
    assert call(cluster, "POST", "box", headers={"X-Container-Meta-" + "k" * 129: "v"}).status_code == 400
    assert call(cluster, "POST", "", headers={"X-Account-Meta-K": "v" * 257}).status_code == 400
    assert call(cluster, "PUT", "box/exp", data=b"", headers={"X-Delete-After": "soon"}).status_code == 400


def test_object_metadata_content_type_and_expiry(cluster: RunningCluster, box: str) -> None:
    put = call(cluster, "PUT", "box/pic.png", data=b"png", headers={"X-Object-Meta-Color": "red",
                                                                   "X-Delete-After": "3600"})
    assert put.status_code == 201
    head = call(cluster, "HEAD", "box/pic.png")
    assert head.headers["Content-Type"] == "image/png"
    assert head.headers["X-Object-Meta-Color"] == "red"
    assert int(head.headers["X-Delete-At"]) > 0
    assert head.headers["Content-Length"] == "3"
    assert call(cluster, "POST", "box/pic.png", headers={"X-Object-Meta-Shape": "round"}).status_code == 202
    head = call(cluster, "HEAD", "box/pic.png")
    assert head.headers["X-Object-Meta-Shape"] == "round"
    assert "X-Object-Meta-Color" not in head.headers  # a POST replaces user metadata, as in Swift


def test_container_and_account_metadata(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "POST", "box", headers={"X-Container-Meta-Team": "blue"}).status_code == 204
    assert call(cluster, "HEAD", "box").headers["X-Container-Meta-Team"] == "blue"
    assert call(cluster, "POST", "box", headers={"X-Remove-Container-Meta-Team": "x"}).status_code == 204
    assert "X-Container-Meta-Team" not in call(cluster, "HEAD", "box").headers
    assert call(cluster, "POST", "", headers={"X-Account-Meta-Owner": "me"}).status_code == 204
    assert call(cluster, "HEAD", "").headers["X-Account-Meta-Owner"] == "me"


def test_listings(cluster: RunningCluster, box: str) -> None:
    plain = call(cluster, "GET", "box?prefix=dir/").text.split()
    assert plain == ["dir/b.json", "dir/c.bin"]
    top = call(cluster, "GET", "box?delimiter=/").text.split()
    assert "dir/" in top and "a.txt" in top and "dir/b.json" not in top
    rows = json.loads(call(cluster, "GET", "box?format=json&limit=1&marker=a.txt").text)
    assert [r["name"] for r in rows] == ["dir/b.json"]
    xml = ElementTree.fromstring(call(cluster, "GET", "box?format=xml").content)
    assert xml.tag == "container"
    accounts = json.loads(call(cluster, "GET", "?format=json").text)
    assert "box" in [row["name"] for row in accounts]


def test_copies(cluster: RunningCluster, box: str) -> None:
    call(cluster, "PUT", "box/src", data=b"source", headers={"X-Object-Meta-A": "1", "Content-Type": "text/x-src"})
    copied = call(cluster, "PUT", "box/dst1", headers={"X-Copy-From": "/box/src", "X-Object-Meta-B": "2"}, data=b"")
    assert copied.status_code == 201
    assert copied.headers["X-Copied-From"] == "box/src"
    head = call(cluster, "HEAD", "box/dst1")
    assert (head.headers["X-Object-Meta-A"], head.headers["X-Object-Meta-B"]) == ("1", "2")
    assert head.headers["Content-Type"] == "text/x-src"
    verb = call(cluster, "COPY", "box/src", headers={"Destination": "box/dst2"})
    assert verb.status_code == 201
    assert call(cluster, "GET", "box/dst2").content == b"source"
    assert call(cluster, "COPY", "box/nothing", headers={"Destination": "box/dst3"}).status_code == 404
    assert call(cluster, "COPY", "box/src", headers={"Destination": "nocontainer"}).status_code == 412


def test_trans_ids_everywhere(cluster: RunningCluster, box: str) -> None:
    answers = [call(cluster, "GET", "box/a.txt"), call(cluster, "GET", "missing"),
               call(cluster, "GET", "", user=None), requests.get(cluster.proxy + "/info", timeout=10)]
    for answer in answers:
        assert answer.headers["X-Trans-Id"].startswith("tx")
        assert answer.headers["X-Openstack-Request-Id"] == answer.headers["X-Trans-Id"]
    put = call(cluster, "PUT", "box/traced", data=b"trace me")
    trans_id = put.headers["X-Trans-Id"]
    # the proxy and at least two replicas
    cluster.logged("proxy", lambda text: trans_id in text, "the proxy's line")
    wait_for(lambda: sum(trans_id in cluster.log_text(f"storage{i + 1}") for i in range(4)) >= 2, 10,
             "two replicas' lines", 0.1)


def test_info_and_healthcheck(cluster: RunningCluster) -> None:
    info = requests.get(cluster.proxy + "/info", timeout=10).json()
    assert info["swift"]["max_file_size"] == MAX_FILE
    assert info["swift"]["max_object_name_length"] == 1024
    assert info["swift"]["container_listing_limit"] == 10000
    assert info["slo"]["max_manifest_segments"] == 1000 and "dlo" in info  # large objects are built
    assert requests.get(cluster.proxy + "/healthcheck", timeout=10).text == "OK"


def test_delete_then_read_is_404(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "PUT", "box/gone", data=b"x").status_code == 201
    assert call(cluster, "DELETE", "box/gone").status_code == 204
    assert call(cluster, "GET", "box/gone").status_code == 404
    assert "gone" not in call(cluster, "GET", "box").text.split()


def test_empty_objects_read_again_and_again(cluster: RunningCluster) -> None:
    """Zero-byte objects, read many times over pooled connections: aiohttp
    shares one reader for every empty body, and once read to its end it
    answered "a chunk boundary, no bytes" for ever, which made a loop on
    ``readchunk`` spin in the proxy (martlet.body.next_piece)."""
    assert call(cluster, "PUT", "empties").status_code in (201, 202)
    for name in ("e1", "e2"):
        assert call(cluster, "PUT", f"empties/{name}", data=b"").status_code == 201
    empty_etag = hashlib.md5(b"").hexdigest()
    for _ in range(3):
        for name in ("e1", "e2"):
            answer = call(cluster, "GET", f"empties/{name}")
            assert answer.status_code == 200 and answer.content == b""
            assert answer.headers["Content-Length"] == "0"
            assert answer.headers["ETag"].strip('"') == empty_etag
            # Bodiless answers from the object servers (304, 412) as well.
            answer = call(cluster, "GET", f"empties/{name}", headers={"If-None-Match": empty_etag})
            assert answer.status_code == 304 and answer.content == b""
            answer = call(cluster, "GET", f"empties/{name}", headers={"If-Match": "nope"})
            assert answer.status_code == 412
