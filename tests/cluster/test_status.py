"""`martlet status` against a running cluster (started as `martlet dev`
starts it): rings, reachability, disk usage, queues and pass ages, and the
exit code operators script against."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture, node_down_with_queued_updates, wait_for

pytestmark = pytest.mark.cluster

MARTLET = Path(sys.executable).with_name("martlet")


cluster = cluster_fixture("status")


def status(cluster: RunningCluster, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [str(MARTLET), "status", "--config", str(cluster.spec.cluster_conf), "--timeout", "5", *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def status_json(cluster: RunningCluster) -> dict[str, Any]:
    done = status(cluster, "--json")
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def test_a_healthy_cluster(cluster: RunningCluster) -> None:
    def replicated_everywhere() -> dict[str, Any] | None:
        report = status_json(cluster)
        daemons = [set(n["recon"].get("passes", {})) for n in report["nodes"]]
        return report if all({"object-replicator", "db-replicator", "auditor"} <= d for d in daemons) else None

    report = wait_for(replicated_everywhere, 60, "every node's first passes")
    assert report["healthy"] is True
    assert [r["kind"] for r in report["rings"]] == ["account", "container", "object", "object-1"]
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
    with node_down_with_queued_updates(cluster, 1):
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
    assert status(cluster).returncode == 0


def test_a_missing_config_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run([str(MARTLET), "status", "--config", str(tmp_path / "nope.conf")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("martlet status: ") and "Traceback" not in done.stderr


def test_the_updaters_pass_is_in_status(cluster: RunningCluster) -> None:
    def updater_everywhere() -> dict[str, Any] | None:
        report = status_json(cluster)
        passes = [n["recon"].get("passes", {}).get(d) for n in report["nodes"] for d in ("updater", "expirer")]
        return report if all(isinstance(p, dict) for p in passes) else None

    report = wait_for(updater_everywhere, 60, "every node's updater and expirer pass")
    for node in report["nodes"]:
        figures = node["recon"]["passes"]["updater"]
        assert figures["daemon"] == "updater" and {"sent", "failed", "seconds"} <= set(figures)
    done = status(cluster)
    lines = done.stdout.splitlines()
    header = next(line for line in lines if "async_pending" in line)
    assert header.split()[-2:] == ["updates", "expiry"]
    for port in cluster.spec.storage_ports:
        row = next(line for line in lines if line.strip().startswith(f"127.0.0.1:{port}"))
        assert row.count("ago") == 5, "replication, db replication, audit, updates and expiry"
