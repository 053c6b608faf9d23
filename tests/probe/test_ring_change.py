"""Probe 8: a ring change. A fifth device is added, the object ring is
rebalanced and the new ring pushed; after replication every object sits on
its new primaries (and nowhere else), and none is lost."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests

from martlet.cluster import load_cluster_config
from ops.dev_cluster import free_ports
from ops.dev_processes import martlet_argv
from ring import load_builder, save_builder, save_ring
from tests.probe.probe_cluster import ProbeCluster, add_daemon_sections, md5_hex, wait_for

pytestmark = pytest.mark.probe


def _add_fifth_node(cluster: ProbeCluster) -> int:
    """Write storage5.conf, start its daemon, return its port."""
    spec = cluster.spec
    (port,) = free_ports(1)
    (spec.devices_root(4) / "d5").mkdir(parents=True)
    conf = spec.storage_conf(4)
    conf.write_text(
        "[storage]\n"
        f"devices = {spec.devices_root(4).name}\n"
        f"bind_ip = 127.0.0.1\nbind_port = {port}\n"
        "cluster_conf = martlet.conf\nfsync = false\n",
        encoding="utf-8",
    )
    add_daemon_sections(conf)
    log = open(cluster.processes.log_dir / "storage5.log", "ab")
    process = subprocess.Popen(
        martlet_argv("storage", "--config", str(conf)),
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    log.close()
    cluster.processes.processes["storage5"] = process  # stopped with the rest
    return port


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _push_new_object_ring(cluster: ProbeCluster, port: int) -> None:
    """What an operator does: add the device, rebalance, write the ring."""
    settings = load_cluster_config(cluster.spec.cluster_conf).hash
    builder_path = cluster.spec.data_dir / "object.builder"
    builder = load_builder(builder_path)
    builder.min_part_hours = 0  # allow the move now, not an hour after the ring was made
    builder.add_device(1, 5, "127.0.0.1", port, "d5", 100.0)
    result = builder.rebalance(now=time.time())
    assert result.moved_partitions > 0
    save_builder(builder, builder_path)
    save_ring(builder.get_ring(settings), cluster.spec.data_dir / "object.ring")


def test_objects_move_to_new_primaries_after_ring_change(cluster: ProbeCluster) -> None:
    conn = cluster.connection()
    conn.put_container("moving")
    bodies = {f"m-{i:03d}": os.urandom(700 + i) for i in range(60)}
    for name, body in bodies.items():
        conn.put_object("moving", name, body)
    before = {name: cluster.primaries("moving", name)[1] for name in bodies}

    port = _add_fifth_node(cluster)
    wait_for(lambda: _healthy(port), timeout=30)
    _push_new_object_ring(cluster, port)
    after = {name: cluster.primaries("moving", name)[1] for name in bodies}
    moved = [name for name in bodies if set(before[name]) != set(after[name])]
    assert any("d5" in devs for devs in after.values()) and moved

    cluster.replicate(nodes=[0, 1, 2, 3, 4])

    for name, body in bodies.items():
        placed = cluster.hash_dirs("moving", name)
        assert set(placed) == set(after[name]), (name, placed, after[name])
        for device in after[name]:
            assert md5_hex(cluster.data_path(device, "moving", name).read_bytes()) == md5_hex(body)
    reader = cluster.connection()
    for name in moved[:10]:
        _headers, body = reader.get_object("moving", name)
        assert body == bodies[name]
