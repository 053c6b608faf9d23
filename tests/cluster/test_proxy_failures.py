"""The proxy when storage daemons are down or die mid-request: real
processes stopped or killed, never simulated."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
import requests
from swiftclient.exceptions import ClientException

from martlet.backend_auth import backend_key
from martlet.cluster import load_cluster_config
from ring import load_ring
from tests.cluster.cluster_harness import RunningCluster, start_cluster
from tests.cluster.conftest import signed

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    running = start_cluster(tmp_path_factory.mktemp("proxy-failures"))
    try:
        running.connection().put_container("photos")
        yield running
    finally:
        running.close()


def primaries(cluster: RunningCluster, kind: str, *names: str) -> list[str]:
    """Storage process names holding the primaries of a path, in ring order."""
    cluster_conf = load_cluster_config(cluster.spec.cluster_conf)
    ring = load_ring(cluster_conf.ring_path(kind), cluster_conf.hash)
    _, nodes = ring.get_nodes(*names)
    return [cluster.storage_name(node.port) for node in nodes]


def test_one_storage_node_down(cluster: RunningCluster) -> None:
    conn = cluster.connection()
    down = primaries(cluster, "object", "AUTH_test", "photos", "one-down-0")[0]
    cluster.stop_storage(down)
    try:
        bodies = {f"one-down-{i}": os.urandom(200_000 + i) for i in range(4)}
        for name, body in bodies.items():
            etag = conn.put_object("photos", name, body)
            assert etag == hashlib.md5(body).hexdigest()
        for name, body in bodies.items():
            _, got = conn.get_object("photos", name)
            assert hashlib.md5(got).hexdigest() == hashlib.md5(body).hexdigest()
        listed = {row["name"] for row in conn.get_container("photos", prefix="one-down-")[1]}
        assert listed == set(bodies)
    finally:
        cluster.start_storage(down)
    # back up: the object written while its primary was down is still read whole
    _, got = conn.get_object("photos", "one-down-0")
    assert got == bodies["one-down-0"]


def test_no_quorum_is_503_never_201(cluster: RunningCluster) -> None:
    conn = cluster.connection()
    conn.head_container("photos")  # container known to the proxy before the outage
    names = [f"storage{i + 1}" for i in range(4)]
    down = names[:3]
    cluster.stop_storage(*down)
    try:
        for i in range(3):
            with pytest.raises(ClientException) as caught:
                conn.put_object("photos", f"no-quorum-{i}", b"must not be acknowledged")
            assert caught.value.http_status == 503
        url, token = cluster.auth()
        answer = requests.put(f"{url}/photos/no-quorum-raw", data=b"x", timeout=30,
                              headers={"X-Auth-Token": token})
        assert answer.status_code == 503
        assert "ETag" not in answer.headers
    finally:
        cluster.start_storage(*down)


def test_read_resumes_on_another_replica_when_a_node_dies(cluster: RunningCluster) -> None:
    body = os.urandom(64 << 20)  # much larger than every socket buffer on the way
    conn = cluster.connection()
    conn.put_object("photos", "resume-me", body)
    serving = primaries(cluster, "object", "AUTH_test", "photos", "resume-me")[0]
    url, token = cluster.auth()
    digest = hashlib.md5()
    received = 0
    with requests.get(f"{url}/photos/resume-me", headers={"X-Auth-Token": token},
                      stream=True, timeout=60) as answer:
        assert answer.status_code == 200
        chunks = answer.iter_content(1 << 20)
        first = next(chunks)
        digest.update(first)
        received += len(first)
        cluster.processes.kill(serving)  # SIGKILL while most of the body is unsent
        try:
            for chunk in chunks:
                digest.update(chunk)
                received += len(chunk)
        finally:
            cluster.start_storage(serving)
    assert received == len(body)
    assert digest.hexdigest() == hashlib.md5(body).hexdigest()
    cluster.logged("proxy", lambda text: "read resumed on another replica" in text, "the resume's log line")


def test_object_only_on_a_handoff_still_reads_back(cluster: RunningCluster) -> None:
    """A write acknowledged while every primary was unreachable lives only on
    handoffs until replication; with the primaries back (answering 404) a GET
    must still find it rather than answer 404 for an acknowledged object."""
    from martlet.backend import backend_path
    from martlet.timestamp import Timestamp

    cluster_conf = load_cluster_config(cluster.spec.cluster_conf)
    ring = load_ring(cluster_conf.ring_path("object"), cluster_conf.hash)
    name = "handoff-only"
    part, _ = ring.get_nodes("AUTH_test", "photos", name)
    handoff = next(iter(ring.get_more_nodes(part)))
    body = os.urandom(50_000)
    path = backend_path(handoff.device, part, "AUTH_test", "photos", name)
    answer = requests.put(
        f"http://{handoff.ip}:{handoff.port}{path}",
        data=body,
        headers={"X-Timestamp": Timestamp.now().normal, "Content-Type": "application/octet-stream",
                 **signed("PUT", path, backend_key(cluster_conf))},
        timeout=10,
    )
    assert answer.status_code == 201
    headers, got = cluster.connection().get_object("photos", name)
    assert got == body
    assert headers["etag"] == hashlib.md5(body).hexdigest()
