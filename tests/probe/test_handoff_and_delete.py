"""Probes: writes made while a primary is down reach it once it returns.

1. A PUT with a primary down lands on a handoff; after replication the
   object is on all three primaries and gone from the handoff.
2. A DELETE with one replica down: after replication no replica of the old
   object remains and GET answers 404.
3. A POST with one replica down: after replication every replica serves the
   new metadata.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from swiftclient.exceptions import ClientException

from martlet.backend import backend_path
from tests.probe.probe_cluster import ProbeCluster, md5_hex

pytestmark = pytest.mark.probe

BODY = b"probe body " * 100


def _direct_head(cluster: ProbeCluster, device: str, container: str, obj: str) -> Mapping[str, str] | None:
    """HEAD one replica straight from its storage daemon (None: 404)."""
    part, _ = cluster.primaries(container, obj)
    path = backend_path(device, part, cluster.account(), container, obj)
    answer = cluster.direct("HEAD", device, path)
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.status_code
    return answer.headers  # case-insensitive


def test_put_with_primary_down_lands_on_handoff_then_moves_home(cluster: ProbeCluster) -> None:
    conn = cluster.connection()
    conn.put_container("c1")
    part, primaries = cluster.primaries("c1", "o1")
    down = primaries[1]
    cluster.stop_node(cluster.node_index(down))
    conn.put_object("c1", "o1", BODY)
    handoffs = [d for d in cluster.all_devices() if d not in primaries]
    placed = cluster.hash_dirs("c1", "o1")
    assert down not in placed
    assert set(placed) == set(primaries[:1] + primaries[2:] + handoffs), placed

    cluster.start_node(cluster.node_index(down))
    cluster.replicate()

    placed = cluster.hash_dirs("c1", "o1")
    assert set(placed) == set(primaries), placed
    for device in primaries:
        assert len([n for n in placed[device] if n.endswith(".data")]) == 1
        head = _direct_head(cluster, device, "c1", "o1")
        assert head is not None and head["ETag"] == md5_hex(BODY)
    _headers, body = conn.get_object("c1", "o1")
    assert body == BODY


def test_delete_with_replica_down_wins_after_replication(cluster: ProbeCluster) -> None:
    conn = cluster.connection()
    conn.put_container("c2")
    conn.put_object("c2", "gone", BODY)
    _part, primaries = cluster.primaries("c2", "gone")
    down = primaries[0]
    cluster.stop_node(cluster.node_index(down))
    conn.delete_object("c2", "gone")
    cluster.start_node(cluster.node_index(down))
    # Before replication the returned node still holds the old object.
    assert any(n.endswith(".data") for n in cluster.hash_dirs("c2", "gone")[down])

    cluster.replicate()

    placed = cluster.hash_dirs("c2", "gone")
    for device, names in placed.items():
        assert not any(n.endswith(".data") for n in names), (device, names)
    for device in primaries:
        assert any(n.endswith(".ts") for n in placed.get(device, [])), (device, placed)
        assert _direct_head(cluster, device, "c2", "gone") is None
    with pytest.raises(ClientException) as caught:
        conn.get_object("c2", "gone")
    assert caught.value.http_status == 404


def test_post_with_replica_down_reaches_it_after_replication(cluster: ProbeCluster) -> None:
    conn = cluster.connection()
    conn.put_container("c3")
    conn.put_object("c3", "labelled", BODY, headers={"X-Object-Meta-Color": "red"})
    _part, primaries = cluster.primaries("c3", "labelled")
    down = primaries[2]
    cluster.stop_node(cluster.node_index(down))
    conn.post_object("c3", "labelled", headers={"X-Object-Meta-Color": "blue", "X-Object-Meta-Shape": "round"})
    cluster.start_node(cluster.node_index(down))
    stale = _direct_head(cluster, down, "c3", "labelled")
    assert stale is not None and stale["X-Object-Meta-Color"] == "red"

    assert not any(n.endswith(".meta") for n in cluster.hash_dirs("c3", "labelled")[down])

    cluster.replicate()

    placed = cluster.hash_dirs("c3", "labelled")
    assert set(placed) == set(primaries), placed
    for device in primaries:
        assert any(n.endswith(".meta") for n in placed[device]), (device, placed[device])
        head = _direct_head(cluster, device, "c3", "labelled")
        assert head is not None, device
        assert head["X-Object-Meta-Color"] == "blue", device
        assert head["X-Object-Meta-Shape"] == "round", device
        assert head["ETag"] == md5_hex(BODY)
