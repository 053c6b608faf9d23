"""Probes: damaged disks are repaired by the auditor and the replicator.

4. A ``.data`` corrupted on disk: a direct GET is cut short (and the copy
   quarantined), proxy GETs only ever succeed with the right bytes, the
   auditor quarantines the other corrupt copy, replication restores both.
5. A whole device wiped (left as an empty directory): replication refills it.
"""

from __future__ import annotations

import os
import shutil

import pytest
import requests

from martlet.backend import backend_path
from tests.probe.probe_cluster import ProbeCluster, md5_hex

pytestmark = pytest.mark.probe

# Larger than one disk chunk (256 KiB), so a cut GET has sent data already.
BIG = os.urandom(600 * 1024)


def _corrupt(path: os.PathLike[str], offset: int = 300 * 1024) -> None:
    """Flip bytes in place: same length, same xattrs, wrong md5."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        original = handle.read(16)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in original))


def _quarantined(cluster: ProbeCluster, device: str) -> list[str]:
    where = cluster.device_path(device) / "quarantined" / "objects"
    return sorted(os.listdir(where)) if where.is_dir() else []


def test_corrupt_data_is_never_served_and_is_restored(cluster: ProbeCluster) -> None:
    conn = cluster.connection()
    conn.put_container("c4")
    conn.put_object("c4", "big", BIG)
    part, primaries = cluster.primaries("c4", "big")
    first, second = primaries[0], primaries[1]
    _corrupt(cluster.data_path(first, "c4", "big"))

    # A direct GET of the corrupt copy: never a complete 200 with bad bytes.
    path = backend_path(first, part, cluster.account(), "c4", "big")
    received = b""
    with pytest.raises(requests.exceptions.RequestException):
        with cluster.direct("GET", first, path, stream=True) as answer:
            assert answer.status_code == 200
            for chunk in answer.iter_content(65536):
                received += chunk
    assert len(received) < len(BIG)
    assert first not in cluster.hash_dirs("c4", "big")
    assert len(_quarantined(cluster, first)) == 1

    # A second corrupt copy; the proxy must only ever hand out the real bytes.
    # A GET that happens to stream from it is cut (never completed with bad
    # bytes); the corrupt copy is then quarantined and later GETs succeed.
    _corrupt(cluster.data_path(second, "c4", "big"))
    good = 0
    for _ in range(6):
        try:
            _headers, body = cluster.connection().get_object("c4", "big")
        except Exception:
            continue
        assert md5_hex(body) == md5_hex(BIG)
        good += 1
    assert good >= 1
    # Whether or not a GET hit it, the auditor leaves it quarantined.

    cluster.run_daemon("auditor", cluster.node_index(second))
    assert second not in cluster.hash_dirs("c4", "big")
    assert len(_quarantined(cluster, second)) == 1

    cluster.replicate()
    placed = cluster.hash_dirs("c4", "big")
    assert set(placed) == set(primaries)
    for device in primaries:
        data = cluster.data_path(device, "c4", "big")
        assert md5_hex(data.read_bytes()) == md5_hex(BIG), device
    # A clean audit pass now: nothing more to quarantine.
    done = cluster.run_daemon("auditor", cluster.node_index(second))
    assert '"quarantined": 0' in done.stderr


def test_wiped_device_is_refilled(cluster: ProbeCluster) -> None:
    conn = cluster.connection()
    conn.put_container("c5")
    bodies = {f"obj-{i}": os.urandom(2048) for i in range(24)}
    for name, body in bodies.items():
        conn.put_object("c5", name, body)
    victim = "d2"
    index = cluster.node_index(victim)
    cluster.stop_node(index)
    device = cluster.device_path(victim)
    for entry in os.listdir(device):
        shutil.rmtree(device / entry)
    assert os.listdir(device) == []
    cluster.start_node(index)

    cluster.replicate()

    expected = [name for name in bodies if victim in cluster.primaries("c5", name)[1]]
    assert expected, "the ring put none of the objects on the wiped device"
    for name, body in bodies.items():
        placed = cluster.hash_dirs("c5", name)
        part, primaries = cluster.primaries("c5", name)
        assert set(placed) == set(primaries), (name, placed)
        for dev in primaries:
            assert md5_hex(cluster.data_path(dev, "c5", name).read_bytes()) == md5_hex(body)
    # Through the API too: the refilled device's own daemon serves each copy
    # (a proxy GET would succeed from the other replicas either way).
    for name in expected:
        part, _primaries = cluster.primaries("c5", name)
        answer = cluster.direct("GET", victim, backend_path(victim, part, cluster.account(), "c5", name))
        assert answer.status_code == 200 and answer.content == bodies[name], (name, answer.status_code)


def test_every_replica_corrupt_never_succeeds(cluster: ProbeCluster) -> None:
    """The proxy's resume cannot mend a body whose first bytes were already
    wrong: with every copy corrupt, no GET may complete."""
    conn = cluster.connection()
    conn.put_container("c8")
    conn.put_object("c8", "rotten", BIG)
    _part, primaries = cluster.primaries("c8", "rotten")
    for device in primaries:
        _corrupt(cluster.data_path(device, "c8", "rotten"))
    for _ in range(4):
        with pytest.raises(Exception) as caught:
            cluster.connection().get_object("c8", "rotten")
        assert not isinstance(caught.value, AssertionError)
    quarantined = [d for d in primaries if _quarantined(cluster, d)]
    assert quarantined, "a cut GET quarantines the copy it read"


def test_resume_never_splices_a_corrupt_prefix_onto_good_bytes(cluster: ProbeCluster) -> None:
    """The first replica read is corrupt near its start: it sends the
    corrupt bytes (many chunks before the end, so they reach the client)
    and cuts before its last chunk. The proxy resumes on a good replica,
    whose copy of the bytes already sent differs (crc32), so it must not
    complete the body from there: the GET is cut. The corrupt copy is
    quarantined and the next GET is whole and right."""
    body = os.urandom(8 << 20)
    conn = cluster.connection()
    conn.put_container("c9")
    conn.put_object("c9", "spliced", body)
    _part, primaries = cluster.primaries("c9", "spliced")
    first = primaries[0]  # a proxy GET reads the primaries in ring order
    _corrupt(cluster.data_path(first, "c9", "spliced"), offset=1024)
    url, token = conn.get_auth()  # one GET, without swiftclient's retries
    received = b""
    with pytest.raises(requests.exceptions.RequestException):
        with requests.get(f"{url}/c9/spliced", headers={"X-Auth-Token": token}, stream=True, timeout=60) as answer:
            assert answer.status_code == 200
            for chunk in answer.iter_content(65536):
                received += chunk
    assert len(received) < len(body)
    log_text = (cluster.processes.log_dir / "proxy.log").read_text(errors="replace")
    assert "resumed replica does not have the bytes sent" in log_text
    assert len(_quarantined(cluster, first)) == 1
    _headers, again = cluster.connection().get_object("c9", "spliced")
    assert md5_hex(again) == md5_hex(body)
