"""Object versioning (``proxy.object_versioning``) on a real cluster
started like ``martlet dev``: versions kept on overwrite and delete,
listed with ``?versions``, read, restored and deleted with
``?version-id``, hidden from clients, and bad input refused storing nothing."""

from __future__ import annotations

import hashlib

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster, wait_for
from tests.cluster.feature_helpers import STRANGER, call, exists, feature_cluster

pytestmark = pytest.mark.cluster

cluster = feature_cluster("object_versioning")
ON = {"X-Versions-Enabled": "true"}


def versions(cluster: RunningCluster, container: str, query: str = "") -> list[dict[str, object]]:
    got = call(cluster, "GET", f"{container}?versions&format=json{query}")
    assert got.status_code == 200, got.text
    rows: list[dict[str, object]] = got.json()
    return rows


def names(cluster: RunningCluster) -> list[str]:
    return [row["name"] for row in call(cluster, "GET", "?format=json").json()]


def test_info(cluster: RunningCluster) -> None:
    assert "object_versioning" in requests.get(cluster.proxy + "/info", timeout=30).json()


def test_overwrite_delete_and_restore(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "vers", headers=ON).status_code == 201
    assert call(cluster, "HEAD", "vers").headers["X-Versions-Enabled"].lower() == "true"
    first = call(cluster, "PUT", "vers/obj", data=b"one", headers={"Content-Type": "text/one"})
    second = call(cluster, "PUT", "vers/obj", data=b"two!", headers={"Content-Type": "text/two"})
    assert first.status_code == second.status_code == 201
    v1, v2 = first.headers["X-Object-Version-Id"], second.headers["X-Object-Version-Id"]
    assert v1 < v2 and second.headers["ETag"] == hashlib.md5(b"two!").hexdigest()
    current = call(cluster, "GET", "vers/obj")
    assert (current.content, current.headers["X-Object-Version-Id"]) == (b"two!", v2)
    old = call(cluster, "GET", f"vers/obj?version-id={v1}")
    assert (old.status_code, old.content, old.headers["Content-Type"]) == (200, b"one", "text/one")
    listed = call(cluster, "GET", "vers?format=json").json()
    assert [(r["name"], r["bytes"], r["hash"]) for r in listed] == [("obj", 4, hashlib.md5(b"two!").hexdigest())]
    rows = versions(cluster, "vers")
    assert [(r["version_id"], r["is_latest"]) for r in rows] == [(v2, True), (v1, False)]
    # the hidden container is no client's business
    assert not any(name.startswith("\x00") for name in names(cluster))
    assert call(cluster, "HEAD", "vers").headers["X-Container-Bytes-Used"] == "7"

    def account_row() -> bool:  # the account learns of its containers' changes a moment later
        row = next(r for r in call(cluster, "GET", "?format=json").json() if r["name"] == "vers")
        return (row["count"], row["bytes"]) == (1, 7)  # the link, and the versions' bytes

    wait_for(account_row, 30, "the account listing to count the versions' bytes")

    deleted = call(cluster, "DELETE", "vers/obj")
    assert deleted.status_code == 204
    marker = deleted.headers["X-Object-Version-Id"]
    assert call(cluster, "GET", "vers/obj").status_code == 404
    gone = call(cluster, "HEAD", f"vers/obj?version-id={marker}")
    assert gone.status_code == 404
    assert versions(cluster, "vers")[0] == {**versions(cluster, "vers")[0], "version_id": marker, "is_latest": True}

    restored = call(cluster, "PUT", f"vers/obj?version-id={v1}", data=b"")
    assert restored.status_code == 201 and restored.headers["X-Object-Version-Id"] == v1
    assert call(cluster, "GET", "vers/obj").content == b"one"
    dropped = call(cluster, "DELETE", f"vers/obj?version-id={v2}")
    assert dropped.status_code == 204 and dropped.headers["X-Object-Current-Version-Id"] == v1
    assert [r["version_id"] for r in versions(cluster, "vers")] == [marker, v1]


def test_null_version_and_disabled(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "later").status_code == 201
    assert call(cluster, "PUT", "later/o", data=b"before").status_code == 201
    assert call(cluster, "GET", "later/o?version-id=null").content == b"before"
    assert call(cluster, "POST", "later", headers=ON).status_code == 204
    assert call(cluster, "PUT", "later/o", data=b"after").status_code == 201
    rows = versions(cluster, "later")
    assert [r["is_latest"] for r in rows] == [True, False] and len({r["version_id"] for r in rows}) == 2
    assert call(cluster, "GET", "later/o?version-id=null").status_code == 404
    assert call(cluster, "POST", "later", headers={"X-Versions-Enabled": "false"}).status_code == 204
    assert call(cluster, "PUT", "later/o", data=b"unversioned").status_code == 201
    assert call(cluster, "GET", "later/o?version-id=null").content == b"unversioned"
    # and a copy from it takes that null version
    assert call(cluster, "PUT", "nulls").status_code == 201
    assert call(cluster, "PUT", "nulls/o?version-id=null", headers={"X-Copy-From": "later/o"}).status_code == 201
    assert call(cluster, "GET", "nulls/o").content == b"unversioned"
    # a versioned container goes only once its versions have
    assert call(cluster, "DELETE", "later/o").status_code == 204
    assert call(cluster, "DELETE", "later").status_code == 409
    for row in versions(cluster, "later"):
        assert call(cluster, "DELETE", f"later/o?version-id={row['version_id']}").status_code in (204, 404)
    assert call(cluster, "DELETE", "later").status_code == 204
    assert "later" not in names(cluster)


def test_versions_are_owners_only(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "shared", headers={**ON, "X-Container-Read": "test:tester3"}).status_code == 201
    put = call(cluster, "PUT", "shared/o", data=b"x")
    version = put.headers["X-Object-Version-Id"]
    assert call(cluster, "GET", "shared/o", user=STRANGER).content == b"x"
    assert call(cluster, "GET", f"shared/o?version-id={version}", user=STRANGER).status_code == 403


def test_bad_input_is_refused_storing_nothing(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "plain").status_code == 201
    assert call(cluster, "PUT", "plain/o", data=b"x").status_code == 201
    # a path naming a reserved name: Swift's 412
    nul = call(cluster, "PUT", "%00versions%00plain/o", data=b"x")
    assert (nul.status_code, nul.text) == (412, "Invalid UTF8 or contains NULL")
    assert call(cluster, "GET", "plain/%00o").status_code == 412
    # X-Versions-Enabled that is no boolean, or beside legacy versioning
    bad = call(cluster, "PUT", "newbie", headers={"X-Versions-Enabled": "perhaps"})
    assert bad.status_code == 400
    both = call(cluster, "PUT", "newbie", headers={**ON, "X-Versions-Location": "elsewhere"})
    assert both.status_code == 400
    assert not exists(cluster, "newbie")
    assert call(cluster, "POST", "missing", headers=ON).status_code == 404
    assert not exists(cluster, "missing")
    assert call(cluster, "PUT", "legacy", headers={"X-Versions-Location": "plain"}).status_code == 201
    assert call(cluster, "POST", "legacy", headers=ON).status_code == 400
    assert "X-Versions-Enabled" not in call(cluster, "HEAD", "legacy").headers
    # version ids: malformed, unknown, or where versioning never was
    assert call(cluster, "GET", "plain/o?version-id=1700000000.00000").status_code == 400
    assert call(cluster, "PUT", "vtwo", headers=ON).status_code == 201
    assert call(cluster, "GET", "vtwo/o?version-id=junk").status_code == 400
    assert call(cluster, "POST", "vtwo/o?version-id=null").status_code == 400
    assert call(cluster, "PUT", "vtwo/o?version-id=1700000000.00000", data=b"").status_code == 404
    assert call(cluster, "PUT", "vtwo/o?version-id=null", data=b"").status_code == 400
    assert call(cluster, "GET", "vtwo?versions&format=xml").status_code == 406
    assert versions(cluster, "vtwo") == []
    assert call(cluster, "GET", "plain/o").content == b"x"
    assert not any(name.startswith("\x00") for name in names(cluster))


def test_copies_make_versions(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "copied", headers=ON).status_code == 201
    assert call(cluster, "PUT", "source").status_code == 201
    assert call(cluster, "PUT", "source/s", data=b"from elsewhere").status_code == 201
    first = call(cluster, "PUT", "copied/o", data=b"first")
    moved = call(cluster, "COPY", "source/s", headers={"Destination": "copied/o"})
    assert moved.status_code == 201 and moved.headers["X-Copied-From"] == "source/s"
    assert call(cluster, "GET", "copied/o").content == b"from elsewhere"
    back = call(cluster, "COPY", f"copied/o?version-id={first.headers['X-Object-Version-Id']}",
                headers={"Destination": "copied/o"})
    assert back.status_code == 201 and back.headers["X-Copied-From"] == "copied/o"
    assert call(cluster, "GET", "copied/o").content == b"first"
    assert len(versions(cluster, "copied")) == 3
    # The null version of an object whose current one is a version: none, as a GET of it says.
    assert call(cluster, "GET", "copied/o?version-id=null").status_code == 404
    null = call(cluster, "PUT", "source/n?version-id=null", headers={"X-Copy-From": "copied/o"})
    assert null.status_code == 404
    assert call(cluster, "GET", "source/n").status_code == 404


def test_a_post_updates_the_current_version_which_never_expires(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "posted", headers=ON).status_code == 201
    version = call(cluster, "PUT", "posted/o", data=b"x").headers["X-Object-Version-Id"]
    posted = call(cluster, "POST", "posted/o", headers={"X-Object-Meta-Color": "red", "X-Delete-After": "3600"})
    assert posted.status_code == 202
    assert call(cluster, "HEAD", "posted/o").headers["X-Object-Meta-Color"] == "red"
    kept = call(cluster, "HEAD", f"posted/o?version-id={version}")
    assert kept.headers["X-Object-Meta-Color"] == "red" and "X-Delete-At" not in kept.headers
    assert "X-Delete-At" in call(cluster, "HEAD", "posted/o?symlink=get").headers


def test_plain_and_xml_listings_of_a_versioned_container(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "texts", headers=ON).status_code == 201
    for data in (b"a", b"bb"):
        assert call(cluster, "PUT", "texts/o", data=data).status_code == 201
    plain = call(cluster, "GET", "texts")
    assert (plain.status_code, plain.text) == (200, "o\n")
    xml = call(cluster, "GET", "texts?format=xml")
    assert xml.status_code == 200 and "<name>o</name>" in xml.text
    assert xml.headers["Content-Type"].startswith("application/xml")
