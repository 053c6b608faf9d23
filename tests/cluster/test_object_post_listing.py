"""An object POST changes the container listing (through the same
container-update path as PUT): the content type in force and the date, on
a cluster started as `martlet dev` starts it."""

from __future__ import annotations

import pytest

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("post-listing")


def listed(cluster: RunningCluster, container: str) -> dict[str, dict]:
    _, rows = cluster.connection().get_container(container)
    return {row["name"]: row for row in rows}


def test_a_post_with_a_new_content_type_shows_in_the_listing(cluster: RunningCluster) -> None:
    conn = cluster.connection()
    conn.put_container("post-ct")
    etag = conn.put_object("post-ct", "photo", b"not really a png", content_type="text/plain")
    before = listed(cluster, "post-ct")["photo"]
    assert before["content_type"] == "text/plain"

    conn.post_object("post-ct", "photo", headers={"Content-Type": "image/png", "X-Object-Meta-Kind": "photo"})
    row = listed(cluster, "post-ct")["photo"]
    assert row["content_type"] == "image/png"
    assert (row["bytes"], row["hash"]) == (16, etag)
    # The listing dates the object by its POST, as its Last-Modified (Swift's).
    assert row["last_modified"] > before["last_modified"]
    assert conn.head_object("post-ct", "photo")["content-type"] == "image/png"
    assert conn.head_container("post-ct")["x-container-object-count"] == "1"

    # A later metadata POST keeps the newest type (Swift's), and the listing
    # agrees, dated by that POST.
    conn.post_object("post-ct", "photo", headers={"X-Object-Meta-Kind": "other"})
    head = conn.head_object("post-ct", "photo")
    assert (head["content-type"], head["x-object-meta-kind"]) == ("image/png", "other")
    again = listed(cluster, "post-ct")["photo"]
    assert again["content_type"] == "image/png" and again["last_modified"] > row["last_modified"]

    # A newer PUT wins over everything the POSTs said.
    conn.put_object("post-ct", "photo", b"csv,data", content_type="text/csv")
    row = listed(cluster, "post-ct")["photo"]
    assert (row["content_type"], row["bytes"]) == ("text/csv", 8)


def test_a_metadata_only_post_keeps_the_content_type(cluster: RunningCluster) -> None:
    """A POST without Content-Type changes metadata only: the object and its
    listing row keep the type it was uploaded with."""
    conn = cluster.connection()
    conn.put_container("post-keep")
    conn.put_object("post-keep", "notes", b"plain words", content_type="text/plain")
    conn.post_object("post-keep", "notes", headers={"X-Object-Meta-Color": "blue"})
    head = conn.head_object("post-keep", "notes")
    assert head["content-type"] == "text/plain"
    assert head["x-object-meta-color"] == "blue"
    assert listed(cluster, "post-keep")["notes"]["content_type"] == "text/plain"
