"""Probe 7: a storage daemon killed with SIGKILL under a bounded write load.

500 PUTs at concurrency 16; one storage daemon is killed part-way and
restarted later. Every PUT that got a 201 reads back with the right md5,
and after replication every acknowledged object has its three replicas on
its primaries (and none left on a handoff).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.probe.probe_cluster import ProbeCluster, md5_hex, wait_for

pytestmark = pytest.mark.probe

OBJECTS = 500
CONCURRENCY = 16
KILL_AFTER = 120
RESTART_AFTER = 320


def test_acknowledged_writes_survive_a_killed_daemon(cluster: ProbeCluster) -> None:
    cluster.connection().put_container("load")
    victim = 2
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    local = threading.local()
    done = [0]
    killed = threading.Event()
    restart = threading.Event()

    def put(i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = cluster.connection()
        name = f"obj-{i:04d}"
        body = os.urandom(1024 + i % 512)
        try:
            etag = conn.put_object("load", name, body)
        except Exception:
            return  # not acknowledged: no promise to keep
        assert etag == md5_hex(body)
        with lock:
            acknowledged[name] = md5_hex(body)
            done[0] += 1
            count = done[0]
        if count == KILL_AFTER and not killed.is_set():
            killed.set()
            cluster.kill_node(victim)
        if count == RESTART_AFTER:
            restart.set()

    restarter = threading.Thread(target=lambda: restart.wait(120) and cluster.start_node(victim))
    restarter.start()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(put, range(OBJECTS)))
    restart.set()
    restarter.join(60)
    assert killed.is_set()
    wait_for(lambda: "storage3" in cluster.processes.processes, timeout=30)
    cluster.processes.wait_ready(30, ["storage3"])
    assert len(acknowledged) >= OBJECTS * 0.9, len(acknowledged)

    reader = cluster.connection()
    for name, digest in acknowledged.items():
        _headers, body = reader.get_object("load", name)
        assert md5_hex(body) == digest, name

    cluster.replicate()

    for name, digest in acknowledged.items():
        placed = cluster.hash_dirs("load", name)
        _part, primaries = cluster.primaries("load", name)
        assert set(placed) == set(primaries), (name, placed, primaries)
        for device in primaries:
            data = [n for n in placed[device] if n.endswith(".data")]
            assert len(data) == 1, (name, device, placed[device])
