"""The object expirer against a whole cluster (``martlet dev``'s, real
processes): objects past ``X-Delete-At`` leave the disks and the listings
after ``martlet expirer --once`` on every node, overwritten or postponed
objects stay, and no client reaches the hidden ``.expiring_objects``.

The nodes' own expirers are given a day between passes here, so that the
``--once`` runs of the tests are the ones that act (and their stats files
tell what they did).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from expirer.plan import replica_of
from martlet.backend import backend_path
from martlet.backend_auth import SIGNATURE_HEADER, backend_key
from martlet.cluster import load_cluster_config
from martlet.expiring import HIDDEN_ACCOUNT, task_container, task_name
from martlet.hashing import hash_path
from ops.dev_cluster import BACKGROUND, DevSpec, create_cluster
from ops.dev_processes import DevCluster, martlet_argv
from ring import load_ring
from tests.cluster.cluster_harness import Api, RunningCluster, wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    spec = DevSpec.ephemeral(tmp_path_factory.mktemp("expirer"), fsync=False, part_power=6)
    spec = dataclasses.replace(spec, node_sections={**BACKGROUND, "expirer": {"interval": "86400"}})
    create_cluster(spec)
    processes = DevCluster(spec)
    try:
        processes.start()
        processes.wait_ready(timeout=30)
        yield RunningCluster(spec, processes)
    finally:
        processes.stop()


def run_expirers(cluster: RunningCluster, nodes: list[int] | None = None) -> dict[str, float]:
    """``martlet expirer --once`` on every node (or on ``nodes``); the
    summed figures of their passes."""
    totals: dict[str, float] = {}
    for i in range(len(cluster.spec.storage_ports)) if nodes is None else nodes:
        stats_file = cluster.spec.devices_root(i) / "expirer.json"
        stats_file.unlink(missing_ok=True)  # a pass that failed (exit 0 all the same) leaves none, not the last one's
        done = subprocess.run(martlet_argv("expirer", "--once", "--config", str(cluster.spec.storage_conf(i))),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        stats = json.loads(stats_file.read_text())
        assert stats["daemon"] == "expirer"
        for key, value in stats.items():
            if key in ("tasks", "deleted", "skipped", "failures"):
                totals[key] = totals.get(key, 0) + value
    return totals


def object_files(cluster: RunningCluster, container: str, obj: str) -> list[Path]:
    config = load_cluster_config(cluster.spec.cluster_conf)
    digest = hash_path("AUTH_test", container, obj, settings=config.hash)
    return sorted(cluster.spec.data_dir.glob(f"node*/d*/objects/*/{digest[-3:]}/{digest}/*"))


def backend_get(cluster: RunningCluster, kind: str, *names: str) -> Any:
    """A signed JSON listing straight from the first replica that has it
    (the hidden account is out of every client's reach)."""
    config = load_cluster_config(cluster.spec.cluster_conf)
    key = backend_key(config)
    part, nodes = load_ring(config.ring_path(kind), config.hash).get_nodes(*names)
    for node in nodes:
        target = backend_path(node.device, part, *names) + "?format=json"
        answer = requests.get(f"http://{node.ip}:{node.port}{target}",
                              headers={SIGNATURE_HEADER: key.sign("GET", target, time.time())}, timeout=10)
        if answer.status_code == 200:
            return answer.json()
    return None


def task_rows(cluster: RunningCluster, delete_at: int) -> list[str]:
    rows = backend_get(cluster, "container", HIDDEN_ACCOUNT, task_container(delete_at)) or []
    return [row["name"] for row in rows]


def put_expiring(api: Api, container: str, obj: str, seconds: int = 2) -> int:
    """An object that expires in ``seconds``; its X-Delete-At."""
    assert api("PUT", f"{container}/{obj}", b"short-lived", X_Delete_After=str(seconds)).status_code == 201
    return int(api("HEAD", f"{container}/{obj}").headers["X-Delete-At"])


def wait_past(delete_at: int) -> None:
    wait_for(lambda: time.time() > delete_at + 0.1, timeout=10, what="the delete-at to pass", interval=0.2)


def listed(api: Api, container: str) -> list[str]:
    answer = requests.get(f"{api.url}/{quote(container)}?format=json", headers=api.headers, timeout=30)
    return [row["name"] for row in answer.json()]


def test_an_expired_object_leaves_disk_and_listing(cluster: RunningCluster) -> None:
    api = Api(cluster)
    assert api("PUT", "exp1").status_code in (201, 202)
    delete_at = put_expiring(api, "exp1", "dir/o 1")
    assert task_name(delete_at, "AUTH_test", "exp1", "dir/o 1") in task_rows(cluster, delete_at)
    assert any(p.suffix == ".data" for p in object_files(cluster, "exp1", "dir/o 1"))
    assert listed(api, "exp1") == ["dir/o 1"]
    wait_past(delete_at)
    assert api("GET", "exp1/dir/o 1").status_code == 404  # reads hid it already

    figures = run_expirers(cluster)
    assert figures["deleted"] == 1 and figures["failures"] == 0
    files = object_files(cluster, "exp1", "dir/o 1")
    assert files and all(p.suffix == ".ts" for p in files)  # tombstones only, on every replica
    assert listed(api, "exp1") == []
    assert wait_for(lambda: api("HEAD", "exp1").headers.get("X-Container-Object-Count") == "0", timeout=10,
                    what="the container's count")
    assert task_name(delete_at, "AUTH_test", "exp1", "dir/o 1") not in task_rows(cluster, delete_at)
    # A second pass finds nothing to do.
    assert run_expirers(cluster).get("tasks", 0) == 0


def test_an_overwrite_without_delete_at_survives(cluster: RunningCluster) -> None:
    api = Api(cluster)
    assert api("PUT", "exp2").status_code in (201, 202)
    delete_at = put_expiring(api, "exp2", "kept")
    assert api("PUT", "exp2/kept", b"for good").status_code == 201
    wait_past(delete_at)
    figures = run_expirers(cluster)
    assert figures["skipped"] >= 1 and figures["deleted"] == 0
    assert api("GET", "exp2/kept").content == b"for good"
    assert listed(api, "exp2") == ["kept"]
    assert task_name(delete_at, "AUTH_test", "exp2", "kept") not in task_rows(cluster, delete_at)


def test_a_post_moving_delete_at_later_keeps_the_object(cluster: RunningCluster) -> None:
    api = Api(cluster)
    assert api("PUT", "exp3").status_code in (201, 202)
    delete_at = put_expiring(api, "exp3", "later")
    assert api("POST", "exp3/later", X_Delete_After="3600").status_code == 202
    later = int(api("HEAD", "exp3/later").headers["X-Delete-At"])
    assert task_name(later, "AUTH_test", "exp3", "later") in task_rows(cluster, later)
    wait_past(delete_at)
    run_expirers(cluster)
    assert api("GET", "exp3/later").content == b"short-lived"
    assert task_name(later, "AUTH_test", "exp3", "later") in task_rows(cluster, later)  # still queued
    assert task_name(delete_at, "AUTH_test", "exp3", "later") not in task_rows(cluster, delete_at)


def test_a_post_removing_delete_at_keeps_the_object(cluster: RunningCluster) -> None:
    api = Api(cluster)
    assert api("PUT", "exp4").status_code in (201, 202)
    delete_at = put_expiring(api, "exp4", "o")
    assert api("POST", "exp4/o").status_code == 202  # a POST without X-Delete-At drops it
    wait_past(delete_at)
    run_expirers(cluster)
    assert api("GET", "exp4/o").status_code == 200


def test_clients_cannot_reach_the_hidden_account(cluster: RunningCluster) -> None:
    api = Api(cluster)
    delete_at = put_expiring(api, "exp1", "secret", seconds=3600)
    base = f"{cluster.proxy}/v1/{HIDDEN_ACCOUNT}"
    container = task_container(delete_at)
    for method, url in [("GET", base), ("HEAD", base), ("POST", base), ("GET", f"{base}/{container}"),
                        ("PUT", f"{base}/{container}"), ("DELETE", f"{base}/{container}"),
                        ("PUT", f"{base}/{container}/x"), ("GET", f"{base}/{container}/{delete_at:010d}-x")]:
        answer = requests.request(method, url, headers=api.headers, timeout=30, data=b"")
        assert answer.status_code in (401, 403), (method, url, answer.status_code)
    assert task_name(delete_at, "AUTH_test", "exp1", "secret") in task_rows(cluster, delete_at)


def test_a_node_that_is_down_delays_only_its_share(cluster: RunningCluster) -> None:
    """Probe-style: the node whose expirer owns a task is stopped; the
    other nodes' expirers leave the task alone; back up, it is done."""
    api = Api(cluster)
    assert api("PUT", "exp5").status_code in (201, 202)
    delete_at = put_expiring(api, "exp5", "owned")
    name = task_name(delete_at, "AUTH_test", "exp5", "owned")
    assert name in task_rows(cluster, delete_at)
    config = load_cluster_config(cluster.spec.cluster_conf)
    _, nodes = load_ring(config.ring_path("container"), config.hash).get_nodes(HIDDEN_ACCOUNT,
                                                                             task_container(delete_at))
    owner = cluster.storage_name(nodes[replica_of(name, len(nodes))].port)
    others = [i for i in range(len(cluster.spec.storage_ports)) if f"storage{i + 1}" != owner]
    cluster.stop_storage(owner)
    try:
        wait_past(delete_at)
        figures = run_expirers(cluster, others)
        assert figures.get("tasks", 0) == 0  # not theirs
        assert any(p.suffix == ".data" for p in object_files(cluster, "exp5", "owned"))
    finally:
        cluster.start_storage(owner)
    # Back up, its own expirer's first pass (or ours) does the task.
    run_expirers(cluster)
    files = object_files(cluster, "exp5", "owned")
    assert files and all(p.suffix == ".ts" for p in files)  # not vacuous: tombstones are there
    assert name not in task_rows(cluster, delete_at)
