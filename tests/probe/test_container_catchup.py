"""Probe 6: a container server down during object PUTs; the listing catches
up on every container replica after the updater and the database
replicator run."""

from __future__ import annotations

import pytest

from martlet.backend import backend_path
from tests.probe.probe_cluster import ProbeCluster

pytestmark = pytest.mark.probe


def _listing(cluster: ProbeCluster, device: str, part: int, container: str) -> list[str]:
    answer = cluster.direct("GET", device, f"{backend_path(device, part, cluster.account(), container)}?format=json")
    assert answer.status_code == 200, (device, answer.status_code)
    return [row["name"] for row in answer.json()]


def test_listing_catches_up_after_container_server_returns(cluster: ProbeCluster) -> None:
    conn = cluster.connection()
    conn.put_container("c6")
    part, nodes = cluster.ring("container").get_nodes(cluster.account(), "c6")
    replicas = [n.device for n in nodes]
    down = replicas[0]
    cluster.stop_node(cluster.node_index(down))
    names = [f"row-{i:02d}" for i in range(12)]
    for name in names:
        conn.put_object("c6", name, name.encode())
    cluster.start_node(cluster.node_index(down))
    assert _listing(cluster, down, part, "c6") == []

    cluster.run_everywhere("updater")
    cluster.run_everywhere("db-replicator")

    for device in replicas:
        assert _listing(cluster, device, part, "c6") == names, device
    _headers, listing = conn.get_container("c6")
    assert [row["name"] for row in listing] == names


def test_db_replicator_alone_converges_a_container(cluster: ProbeCluster) -> None:
    """With the queued updates dropped, only database replication can
    bring the returning replica up to date."""
    conn = cluster.connection()
    conn.put_container("c7", headers={"X-Container-Meta-Before": "1"})
    part, nodes = cluster.ring("container").get_nodes(cluster.account(), "c7")
    replicas = [n.device for n in nodes]
    down = replicas[1]
    cluster.stop_node(cluster.node_index(down))
    for i in range(5):
        conn.put_object("c7", f"o{i}", b"x")
    conn.post_container("c7", headers={"X-Container-Meta-After": "2"})
    conn.delete_object("c7", "o0")
    cluster.start_node(cluster.node_index(down))
    for device in cluster.all_devices():  # forget every queued container update
        pending = cluster.device_path(device) / "async_pending"
        if pending.is_dir():
            for path in pending.rglob("*"):
                if path.is_file():
                    path.unlink()

    path = backend_path(down, part, cluster.account(), "c7")
    # Before: the returned replica has neither the rows nor the new metadata.
    assert _listing(cluster, down, part, "c7") == []
    assert cluster.direct("HEAD", down, path).headers.get("X-Container-Meta-After") is None

    cluster.run_everywhere("db-replicator")

    head = cluster.direct("HEAD", down, path)
    assert head.headers.get("X-Container-Meta-After") == "2"
    assert head.headers.get("X-Container-Meta-Before") == "1"
    for device in replicas:
        assert _listing(cluster, device, part, "c7") == ["o1", "o2", "o3", "o4"], device
    _headers, listing = conn.get_container("c7")
    assert [row["name"] for row in listing] == ["o1", "o2", "o3", "o4"]
