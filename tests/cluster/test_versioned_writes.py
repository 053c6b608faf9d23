"""Legacy versioned writes (``proxy.versioned_writes``) on a real cluster
started like ``martlet dev`` (every feature on): the versions container,
stack and history modes, the caller's rights, and bad input storing nothing."""

from __future__ import annotations

import json

import pytest

from tests.cluster.cluster_harness import RunningCluster, wait_for
from tests.cluster.feature_helpers import STRANGER, call, exists, feature_cluster

pytestmark = pytest.mark.cluster

cluster = feature_cluster("versioned-writes")
MARKER = "application/x-deleted;swift_versions_deleted=1"


def versions(cluster: RunningCluster, container: str, count: int) -> list[dict[str, str]]:
    """The versions container's rows, once it lists ``count`` of them (a
    row update may still be on its way when a write returns)."""

    def rows() -> list[dict[str, str]] | None:
        listed = json.loads(call(cluster, "GET", f"{container}?format=json").text or "[]")
        return listed if len(listed) == count else None

    if count == 0:
        wait_for(lambda: rows() is not None, 10, f"{container} empty", 0.1)
        return []
    return wait_for(rows, 10, f"{count} rows in {container}", 0.1)


def body(cluster: RunningCluster, path: str) -> bytes:
    answer = call(cluster, "GET", path)
    assert answer.status_code == 200, (path, answer.status_code)
    return answer.content


def versioned(cluster: RunningCluster, name: str, header: str = "X-Versions-Location",
              acl: dict[str, str] | None = None) -> str:
    """A container ``name`` versioned into ``name-v``; returns the latter."""
    assert call(cluster, "PUT", f"{name}-v").status_code in (201, 202)
    assert call(cluster, "PUT", name, headers={header: f"{name}-v", **(acl or {})}).status_code in (201, 202)
    return f"{name}-v"


# --- the container's setting --------------------------------------------------

def test_location_is_shown_under_its_mode_and_can_be_removed(cluster: RunningCluster) -> None:
    versioned(cluster, "shown")
    assert call(cluster, "HEAD", "shown").headers["X-Versions-Location"] == "shown-v"
    assert call(cluster, "POST", "shown", headers={"X-History-Location": "shown-v"}).status_code == 204
    head = call(cluster, "HEAD", "shown").headers
    assert head["X-History-Location"] == "shown-v" and "X-Versions-Location" not in head
    assert call(cluster, "POST", "shown", headers={"X-Remove-History-Location": "x"}).status_code == 204
    head = call(cluster, "HEAD", "shown").headers
    assert "X-History-Location" not in head and "X-Versions-Location" not in head


@pytest.mark.parametrize("headers, status", [
    ({"X-Versions-Location": "a", "X-History-Location": "b"}, 400),
    ({"X-Versions-Location": "a/b"}, 412),
    ({"X-History-Location": "%FF"}, 400),
    ({"X-Versions-Location": "%2F"}, 400),
])
def test_a_bad_location_is_refused_and_stores_nothing(cluster: RunningCluster, headers: dict[str, str],
                                                      status: int) -> None:
    assert call(cluster, "PUT", "badloc", headers=headers).status_code == status
    assert not exists(cluster, "badloc")
    versioned(cluster, "badpost")
    assert call(cluster, "POST", "badpost", headers=headers).status_code == status
    assert call(cluster, "HEAD", "badpost").headers["X-Versions-Location"] == "badpost-v"


def test_only_the_owner_sets_a_location(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "ownedloc", headers={"X-Container-Write": "test:tester3"}).status_code == 201
    answer = call(cluster, "POST", "ownedloc", user=STRANGER, headers={"X-Versions-Location": "x"})
    assert answer.status_code == 403
    assert "X-Versions-Location" not in call(cluster, "HEAD", "ownedloc").headers


# --- stack mode ---------------------------------------------------------------

def test_stack_mode_archives_overwrites_and_pops_them_back(cluster: RunningCluster) -> None:
    archive = versioned(cluster, "stack")
    assert call(cluster, "PUT", "stack/o", data=b"one", headers={"X-Object-Meta-N": "1",
                                                                 "Content-Type": "text/one"}).status_code == 201
    assert versions(cluster, archive, 0) == []
    assert call(cluster, "PUT", "stack/o", data=b"two").status_code == 201
    assert call(cluster, "POST", "stack/o", headers={"X-Object-Meta-N": "2"}).status_code == 202  # no version
    [row] = versions(cluster, archive, 1)
    assert row["name"].startswith("001o/") and row["content_type"] == "text/one"
    assert body(cluster, f"{archive}/{row['name']}") == b"one"
    assert call(cluster, "HEAD", f"{archive}/{row['name']}").headers["X-Object-Meta-N"] == "1"

    assert call(cluster, "DELETE", "stack/o").status_code == 204
    assert body(cluster, "stack/o") == b"one"
    restored = call(cluster, "HEAD", "stack/o").headers
    assert restored["Content-Type"] == "text/one" and restored["X-Object-Meta-N"] == "1"
    versions(cluster, archive, 0)
    assert call(cluster, "DELETE", "stack/o").status_code == 204
    assert call(cluster, "GET", "stack/o").status_code == 404
    assert call(cluster, "DELETE", "stack/o").status_code == 404


def test_a_copy_onto_a_versioned_object_archives_it(cluster: RunningCluster) -> None:
    archive = versioned(cluster, "copied")
    assert call(cluster, "PUT", "copied/src", data=b"source").status_code == 201
    assert call(cluster, "PUT", "copied/dst", data=b"old").status_code == 201
    assert call(cluster, "COPY", "copied/src", headers={"Destination": "copied/dst"}).status_code == 201
    [row] = versions(cluster, archive, 1)
    assert body(cluster, f"{archive}/{row['name']}") == b"old"
    assert call(cluster, "PUT", "copied/dst", headers={"X-Copy-From": "copied/missing"}).status_code == 404
    versions(cluster, archive, 1)  # a copy that is not made archives nothing
    assert body(cluster, "copied/dst") == b"source"


def test_a_refused_put_archives_nothing(cluster: RunningCluster) -> None:
    archive = versioned(cluster, "refused")
    assert call(cluster, "PUT", "refused/o", data=b"kept").status_code == 201
    bad_meta = {"X-Object-Meta-" + "k" * 200: "v"}
    assert call(cluster, "PUT", "refused/o", data=b"new", headers=bad_meta).status_code == 400
    assert call(cluster, "PUT", "refused/o", user=None, data=b"new").status_code == 401
    assert call(cluster, "PUT", "refused/o", user=STRANGER, data=b"new").status_code == 403
    assert call(cluster, "DELETE", "refused/o", user=STRANGER).status_code == 403
    assert call(cluster, "PUT", "refused/o", data=b"new", headers={"If-None-Match": "*"}).status_code == 412
    copy_with_body = {"X-Copy-From": "refused/o"}
    assert call(cluster, "PUT", "refused/o", data=b"body", headers=copy_with_body).status_code == 400
    versions(cluster, archive, 0)
    assert body(cluster, "refused/o") == b"kept"


# --- history mode -------------------------------------------------------------

def test_history_mode_keeps_a_delete_marker(cluster: RunningCluster) -> None:
    archive = versioned(cluster, "hist", header="X-History-Location")
    assert call(cluster, "PUT", "hist/o", data=b"one").status_code == 201
    assert call(cluster, "DELETE", "hist/o").status_code == 204
    assert call(cluster, "GET", "hist/o").status_code == 404
    assert call(cluster, "DELETE", "hist/o").status_code == 404
    rows = versions(cluster, archive, 3)
    assert [r["content_type"] for r in rows][1:] == [MARKER, MARKER]
    assert body(cluster, f"{archive}/{rows[0]['name']}") == b"one"


# --- rights -------------------------------------------------------------------

def test_a_writer_versions_without_rights_on_the_versions_container(cluster: RunningCluster) -> None:
    archive = versioned(cluster, "shared", acl={"X-Container-Write": "test:tester3"})
    assert call(cluster, "PUT", "shared/o", user=STRANGER, data=b"one").status_code == 201
    assert call(cluster, "PUT", "shared/o", user=STRANGER, data=b"two").status_code == 201
    [row] = versions(cluster, archive, 1)
    # ...but gains none there: it may neither read nor delete the archive.
    assert call(cluster, "GET", f"{archive}/{row['name']}", user=STRANGER).status_code == 403
    assert call(cluster, "DELETE", f"{archive}/{row['name']}", user=STRANGER).status_code == 403
    assert call(cluster, "DELETE", "shared/o", user=STRANGER).status_code == 204
    assert body(cluster, "shared/o") == b"one"


def test_a_missing_versions_container_refuses_the_overwrite(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "orphan", headers={"X-Versions-Location": "nowhere"}).status_code == 201
    assert call(cluster, "PUT", "orphan/o", data=b"first").status_code == 201  # nothing to archive yet
    assert call(cluster, "PUT", "orphan/o", data=b"second").status_code == 412
    assert body(cluster, "orphan/o") == b"first"
    assert call(cluster, "DELETE", "orphan/o").status_code == 204  # no versions to pop: a plain delete
