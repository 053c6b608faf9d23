"""Symlinks (``proxy.symlink``) on a real cluster started like ``martlet
dev``: links made, followed with the reader's own rights, refused when
malformed (storing nothing), listed, posted to and copied."""

from __future__ import annotations

import hashlib

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster
from tests.cluster.feature_helpers import OTHER_OWNER, STRANGER, call, exists, feature_cluster

pytestmark = pytest.mark.cluster

cluster = feature_cluster("symlink")
BODY = b"the target's body"
EMPTY_MD5 = hashlib.md5(b"").hexdigest()


@pytest.fixture(scope="module")
def made(cluster: RunningCluster) -> str:
    """Containers ``tgt`` (with object ``obj``) and ``links``; the account path."""
    for container in ("tgt", "links"):
        assert call(cluster, "PUT", container).status_code in (201, 202)
    put = call(cluster, "PUT", "tgt/obj", data=BODY, headers={"Content-Type": "application/target"})
    assert put.status_code == 201
    return cluster.auth("test:tester", "testing")[0].split("/v1", 1)[1]


def link(cluster: RunningCluster, name: str, target: str, **headers: str) -> requests.Response:
    return call(cluster, "PUT", f"links/{name}", data=b"", headers={"X-Symlink-Target": target, **headers})


def test_info(cluster: RunningCluster) -> None:
    info = requests.get(cluster.proxy + "/info", timeout=30).json()
    assert info["symlink"] == {"symloop_max": 2, "static_links": True}


def test_a_link_reads_as_its_target(cluster: RunningCluster, made: str) -> None:
    assert link(cluster, "plain", "tgt/obj").status_code == 201
    got = call(cluster, "GET", "links/plain")
    assert got.status_code == 200 and got.content == BODY
    assert got.headers["Content-Location"] == f"/v1{made}/tgt/obj"
    assert got.headers["ETag"] == hashlib.md5(BODY).hexdigest()
    ranged = call(cluster, "GET", "links/plain", headers={"Range": "bytes=4-9"})
    assert ranged.status_code == 206 and ranged.content == BODY[4:10]
    itself = call(cluster, "GET", "links/plain?symlink=get")
    assert itself.status_code == 200 and itself.content == b""
    assert itself.headers["X-Symlink-Target"] == "tgt/obj"
    assert itself.headers["ETag"] == EMPTY_MD5
    assert not any(k.lower().startswith("x-object-sysmeta") for k in itself.headers)
    conditional = call(cluster, "GET", "links/plain", headers={"If-None-Match": hashlib.md5(BODY).hexdigest()})
    assert conditional.status_code == 304


def test_bad_links_are_refused_and_store_nothing(cluster: RunningCluster, made: str) -> None:
    cases = [
        ({"X-Symlink-Target": "no-container"}, 412, b"X-Symlink-Target header must be of the form"),
        ({"X-Symlink-Target": "links/bad"}, 400, b"Symlink cannot target itself"),
        ({"X-Symlink-Target": "tgt/obj", "X-Symlink-Target-Etag": "not-it"}, 409, b"Object Etag '"),
        ({"X-Symlink-Target": "tgt/missing", "X-Symlink-Target-Etag": EMPTY_MD5}, 409,
         b"X-Symlink-Target does not exist"),
    ]
    for headers, status, reason in cases:
        answer = call(cluster, "PUT", "links/bad", data=b"", headers=headers)
        assert (answer.status_code, answer.content[:len(reason)]) == (status, reason), headers
    answer = call(cluster, "PUT", "links/bad", data=b"x", headers={"X-Symlink-Target": "tgt/obj"})
    assert (answer.status_code, answer.content) == (400, b"Symlink requests require a zero byte body")
    answer = call(cluster, "POST", "tgt/obj", headers={"X-Symlink-Target": "tgt/other"})
    assert (answer.status_code, answer.content) == (400, b"A PUT request is required to set a symlink target")
    assert not exists(cluster, "links/bad")


def test_loops_and_chains_are_bounded(cluster: RunningCluster, made: str) -> None:
    assert link(cluster, "ping", "links/pong").status_code == 201
    assert link(cluster, "pong", "links/ping").status_code == 201
    loop = call(cluster, "GET", "links/ping")
    assert (loop.status_code, loop.content) == (409, b"Too many levels of symbolic links, maximum allowed is 2")
    assert call(cluster, "HEAD", "links/ping?symlink=get").status_code == 200
    assert link(cluster, "one", "tgt/obj").status_code == 201
    assert link(cluster, "two", "links/one").status_code == 201
    assert call(cluster, "GET", "links/two").content == BODY
    assert link(cluster, "three", "links/two").status_code == 201
    assert call(cluster, "GET", "links/three").status_code == 409


def test_the_target_is_read_with_the_readers_rights(cluster: RunningCluster, made: str) -> None:
    """A link another account's user may read points where that user may
    not: the read is refused as the target's own would be."""
    assert call(cluster, "POST", "links", headers={"X-Container-Read": "test:tester3"}).status_code == 204
    assert link(cluster, "guarded", "tgt/obj").status_code == 201
    assert call(cluster, "GET", "links/guarded?symlink=get", user=STRANGER).status_code == 200
    refused = call(cluster, "GET", "links/guarded", user=STRANGER)
    assert refused.status_code == 403 and BODY not in refused.content
    # A link in another account to this one: refused until an ACL allows it.
    other = f"{made.rsplit('/', 1)[1]}"
    assert call(cluster, "PUT", "mine", account=OTHER_OWNER, user=OTHER_OWNER).status_code in (201, 202)
    put = call(cluster, "PUT", "mine/l", account=OTHER_OWNER, user=OTHER_OWNER, data=b"",
               headers={"X-Symlink-Target": "tgt/obj", "X-Symlink-Target-Account": other})
    assert put.status_code == 201
    assert call(cluster, "GET", "mine/l", account=OTHER_OWNER, user=OTHER_OWNER).status_code == 403
    static = call(cluster, "PUT", "mine/s", account=OTHER_OWNER, user=OTHER_OWNER, data=b"",
                  headers={"X-Symlink-Target": "tgt/obj", "X-Symlink-Target-Account": other,
                           "X-Symlink-Target-Etag": hashlib.md5(BODY).hexdigest()})
    assert static.status_code == 403
    assert call(cluster, "HEAD", "mine/s", account=OTHER_OWNER, user=OTHER_OWNER).status_code == 404


def test_static_links_listing_post_and_copy(cluster: RunningCluster, made: str) -> None:
    etag = hashlib.md5(BODY).hexdigest()
    assert link(cluster, "static", "tgt/obj", **{"X-Symlink-Target-Etag": etag}).status_code == 201
    assert link(cluster, "dynamic", "tgt/obj").status_code == 201
    rows = {r["name"]: r for r in call(cluster, "GET", "links?format=json").json()}
    assert rows["static"]["symlink_path"] == f"/v1{made}/tgt/obj"
    assert (rows["static"]["symlink_etag"], rows["static"]["symlink_bytes"]) == (etag, len(BODY))
    assert rows["static"]["content_type"] == "application/target"
    assert "symlink_etag" not in rows["dynamic"] and rows["dynamic"]["hash"] == EMPTY_MD5
    posted = call(cluster, "POST", "links/static", headers={"X-Object-Meta-A": "b", "Content-Type": "x/y"},
                  allow_redirects=False)
    assert posted.status_code == 307 and posted.headers["Location"] == f"/v1{made}/tgt/obj"
    assert call(cluster, "HEAD", "links/static?symlink=get").headers["X-Object-Meta-A"] == "b"
    rows = {r["name"]: r for r in call(cluster, "GET", "links?format=json").json()}
    assert rows["static"]["content_type"] == "x/y" and "symlink_path" in rows["static"]
    # a copy of a link is its target's content, or with ?symlink=get the link
    assert call(cluster, "PUT", "tgt/copied", data=b"", headers={"X-Copy-From": "links/dynamic"}).status_code == 201
    copied = call(cluster, "GET", "tgt/copied")
    assert copied.content == BODY and "Content-Location" not in copied.headers
    assert call(cluster, "PUT", "links/copy?symlink=get", data=b"",
                headers={"X-Copy-From": "links/dynamic"}).status_code == 201
    assert call(cluster, "GET", "links/copy").headers["Content-Location"] == f"/v1{made}/tgt/obj"
    # the target changes: the static link answers 409, still saying where it points
    assert call(cluster, "PUT", "tgt/obj", data=b"changed").status_code == 201
    broken = call(cluster, "GET", "links/static")
    assert broken.status_code == 409 and broken.headers["Content-Location"] == f"/v1{made}/tgt/obj"
    assert call(cluster, "PUT", "tgt/obj", data=BODY, headers={"Content-Type": "application/target"}
                ).status_code == 201
    assert call(cluster, "DELETE", "links/static").status_code == 204
    assert call(cluster, "GET", "tgt/obj").content == BODY
