"""Server-side copy as Swift's (a GET of the source, then a PUT), and the
reads that go with it — ``X-Newest``, ``If-Range`` — on a real cluster."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from martlet.backend import backend_path
from martlet.backend_auth import backend_key
from martlet.cluster import load_cluster_config
from martlet.conditional import http_date
from martlet.timestamp import Timestamp
from ring import load_ring
from tests.cluster.cluster_harness import Api, RunningCluster, cluster_fixture
from tests.cluster.conftest import signed

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("server-copy")




@pytest.fixture(scope="module")
def api(cluster: RunningCluster) -> Api:
    return Api(cluster)


def listed(api: Api, container: str) -> dict[str, dict]:
    return {row["name"]: row for row in api("GET", f"{container}?format=json").json()}


def test_a_copy_with_range_copies_those_bytes(api: Api) -> None:
    data = bytes(range(256)) * 4
    api("PUT", "ranged")
    api("PUT", "ranged/src", data, Content_Type="image/png", X_Object_Meta_Kept="yes")
    put = api("PUT", "ranged/by-header", b"", X_Copy_From="ranged/src", Range="bytes=100-200")
    verb = api("COPY", "ranged/src", Destination="ranged/by-verb", Range="bytes=100-200")
    assert (put.status_code, verb.status_code) == (201, 201)
    for name in ("by-header", "by-verb"):
        got = api("GET", f"ranged/{name}")
        assert got.content == data[100:201]
        assert (got.headers["Content-Type"], got.headers["X-Object-Meta-Kept"]) == ("image/png", "yes")
        row = listed(api, "ranged")[name]
        assert (row["bytes"], row["hash"]) == (101, hashlib.md5(data[100:201]).hexdigest())
    # The source's own 416 and 412 answer the copy; nothing is written.
    assert api("COPY", "ranged/src", Destination="ranged/no", Range="bytes=5000-").status_code == 416
    assert api("COPY", "ranged/src", Destination="ranged/no", If_Match="nope").status_code == 412
    assert api("HEAD", "ranged/no").status_code == 404


def test_copy_without_destination_is_412(api: Api) -> None:
    api("PUT", "nodest")
    api("PUT", "nodest/o", b"x")
    answer = api("COPY", "nodest/o")
    assert answer.status_code == 412 and b"Destination header required" in answer.content


def test_the_source_is_judged_before_the_destination(cluster: RunningCluster, api: Api) -> None:
    """A missing source is a 404 even where the destination is forbidden."""
    other = Api(cluster, "test2:tester2", "testing2")
    assert other("PUT", "closed").status_code in (201, 202)  # no ACL for test:tester
    missing = api("COPY", "no-such-container/o", Destination="closed/o", Destination_Account="AUTH_test2")
    assert missing.status_code == 404
    api("PUT", "open-src")
    api("PUT", "open-src/o", b"x")
    forbidden = api("COPY", "open-src/o", Destination="closed/o", Destination_Account="AUTH_test2")
    assert forbidden.status_code == 403


def test_a_part_of_an_slo_copies_as_a_plain_object(api: Api) -> None:
    api("PUT", "partcopy")
    parts = [b"a" * 1000, b"b" * 2000, b"c" * 3]
    manifest = []
    for index, body in enumerate(parts):
        api("PUT", f"partcopy/seg{index}", body)
        manifest.append({"path": f"/partcopy/seg{index}", "etag": hashlib.md5(body).hexdigest()})
    assert api("PUT", "partcopy/m?multipart-manifest=put", json.dumps(manifest)).status_code == 201
    assert api("COPY", "partcopy/m?part-number=2", Destination="partcopy/two").status_code == 201
    assert api("PUT", "partcopy/one?part-number=1", b"", X_Copy_From="partcopy/m").status_code == 201
    assert api("GET", "partcopy/two?multipart-manifest=get").content == parts[1]
    assert api("GET", "partcopy/one").content == parts[0]
    # A range of the large object, across two segments.
    assert api("COPY", "partcopy/m", Destination="partcopy/r", Range="bytes=990-1009").status_code == 201
    assert api("GET", "partcopy/r").content == b"a" * 10 + b"b" * 10


def _versions_on_primaries(cluster: RunningCluster, container: str, name: str) -> tuple[bytes, bytes]:
    """The object written straight to its primaries: an old version on all
    of them, then a newer one on the last primary only (a write the first
    primaries missed, not yet replicated). Returns (old, new)."""
    config = load_cluster_config(cluster.spec.cluster_conf)
    ring = load_ring(config.ring_path("object"), config.hash)
    part, nodes = ring.get_nodes("AUTH_test", container, name)
    old, new = b"old version", b"the newer version"
    now = Timestamp.now().seconds
    stamps = [Timestamp.from_float(now).normal, Timestamp.from_float(now + 1).normal]
    for body, stamp, targets in ((old, stamps[0], nodes), (new, stamps[1], nodes[-1:])):
        for node in targets:
            path = backend_path(node.device, part, "AUTH_test", container, name)
            answer = requests.put(f"http://{node.ip}:{node.port}{path}", data=body, timeout=10,
                                  headers={"X-Timestamp": stamp, "Content-Type": "text/plain",
                                           **signed("PUT", path, backend_key(config))})
            assert answer.status_code == 201
    return old, new


def test_x_newest_reads_the_newest_replica_and_copies_read_it(cluster: RunningCluster, api: Api) -> None:
    api("PUT", "newest")
    _, new = _versions_on_primaries(cluster, "newest", "o")
    assert api("GET", "newest/o", X_Newest="true").content == new
    assert api("HEAD", "newest/o", X_Newest="true").headers["Content-Length"] == str(len(new))
    assert api("COPY", "newest/o", Destination="newest/copy").status_code == 201
    assert api("GET", "newest/copy").content == new
    # Containers and accounts answer X-Newest too.
    assert api("HEAD", "newest", X_Newest="true").status_code == 204
    assert api("GET", "", X_Newest="true").status_code == 200


def test_if_range_serves_the_range_only_for_the_same_object(api: Api) -> None:
    data = b"0123456789" * 10
    api("PUT", "ifrange")
    etag = api("PUT", "ifrange/o", data).headers["ETag"]
    head = api("HEAD", "ifrange/o")
    same = api("GET", "ifrange/o", Range="bytes=10-19", If_Range=f'"{etag}"')
    assert (same.status_code, same.content) == (206, data[10:20])
    dated = api("GET", "ifrange/o", Range="bytes=10-19", If_Range=head.headers["Last-Modified"])
    assert (dated.status_code, dated.content) == (206, data[10:20])
    for stale in ('"0123"', 'W/"' + etag + '"', http_date(1_000_000_000)):
        whole = api("GET", "ifrange/o", Range="bytes=10-19", If_Range=stale)
        assert (whole.status_code, whole.content) == (200, data)
