"""`martlet status` against a running cluster (started as `martlet dev`
starts it): rings, reachability, disk usage, queues and pass ages, and the
exit code operators script against."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.cluster_harness import RunningCluster, start_cluster

pytestmark = pytest.mark.cluster

MARTLET = Path(sys.executable).with_name("martlet")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    running = start_cluster(tmp_path_factory.mktemp("status"))
    try:
        yield running
    finally:
        running.close()


def status(cluster: RunningCluster, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [str(MARTLET), "status", "--config", str(cluster.spec.cluster_conf), "--timeout", "5", *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def status_json(cluster: RunningCluster) -> dict[str, Any]:
    done = status(cluster, "--json")
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def container_on(cluster: RunningCluster, device: str) -> str:
    """A container name whose replicas include ``device``, so that object
    writes while it is down must queue updates for it."""
    from martlet.cluster import load_cluster_config
    from ring import load_ring

    config = load_cluster_config(cluster.spec.cluster_conf)
    ring = load_ring(config.ring_path("container"), config.hash)
    for i in range(1000):
        name = f"queued-{i}"
        if device in [d.device for d in ring.get_nodes("AUTH_test", name)[1]]:
            return name
    raise AssertionError(f"no container on {device}")


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_a_healthy_cluster(cluster: RunningCluster) -> None:
    def replicated_everywhere() -> dict[str, Any] | None:
        report = status_json(cluster)
        daemons = [set(n["recon"].get("passes", {})) for n in report["nodes"]]
        return report if all({"object-replicator", "db-replicator", "auditor"} <= d for d in daemons) else None

    report = wait_for(replicated_everywhere, 60, "every node's first passes")
    assert report["healthy"] is True
    assert [r["kind"] for r in report["rings"]] == ["account", "container", "object"]
    ring = report["rings"][2]
    assert ring["replicas"] == 3 and len(ring["devices"]) == 4
    assert sum(d["partitions"] for d in ring["devices"]) == 3 * ring["partitions"]
    done = status(cluster)
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout
    assert "object ring: 64 partitions, 3 replicas, 4 devices, balance 0.00" in text
    assert "storage nodes: 4/4 reachable" in text
    for port in cluster.spec.storage_ports:
        row = next(line for line in text.splitlines() if line.strip().startswith(f"127.0.0.1:{port}"))
        assert " up " in row and " 1/1 " in row and "GiB" in row and "ago" in row


def test_a_stopped_node_is_reported_and_fails_the_exit_code(cluster: RunningCluster) -> None:
    conn = cluster.connection()
    container = container_on(cluster, "d2")
    conn.put_container(container)
    cluster.stop_storage("storage2")
    try:
        for i in range(12):
            conn.put_object(container, f"o{i}", b"data")
        done = status(cluster)
        assert done.returncode == 1
        port = cluster.spec.storage_ports[1]
        row = next(line for line in done.stdout.splitlines() if line.strip().startswith(f"127.0.0.1:{port}"))
        assert "UNREACHABLE" in row
        assert "storage nodes: 3/4 reachable" in done.stdout
        # The container rows meant for storage2 wait in the other nodes' queues.
        queued = wait_for(lambda: sum(n["recon"].get("async_pending", 0) for n in status_json(cluster)["nodes"]),
                          30, "queued updates in status")
        assert queued >= 1
    finally:
        cluster.start_storage("storage2")
    assert status(cluster).returncode == 0


def test_a_missing_config_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run([str(MARTLET), "status", "--config", str(tmp_path / "nope.conf")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("martlet status: ") and "Traceback" not in done.stderr
