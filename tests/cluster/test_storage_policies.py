"""Storage policies end to end, through the proxy of a real cluster (the
``martlet dev`` set-up: Policy-0, the default, and silver, each with its
own object ring): placement on disk, a policy fixed for a container's life,
listings and account totals per policy, copies across policies, and the
background daemons at work on policy 1."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from martlet.cluster import load_cluster_config
from ring import Ring, load_ring
from tests.cluster.cluster_harness import RunningCluster, cluster_fixture, container_on, wait_for

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("policies")


def call(cluster: RunningCluster, method: str, path: str = "", body: bytes | None = None,
         **headers: str) -> requests.Response:
    """A request as test:tester to its account's ``path``; header names
    given with ``_`` for ``-``."""
    base, token = cluster.auth()
    url = f"{base}/{path}" if path else base
    sent = {"X-Auth-Token": token, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return requests.request(method, url, headers=sent, data=body, timeout=30)


def ring_of(cluster: RunningCluster, policy: int) -> Ring:
    config = load_cluster_config(cluster.spec.cluster_conf)
    return load_ring(config.ring_path("object", policy), config.hash)


def device_dir(cluster: RunningCluster, device: str) -> Path:
    """``d<N>`` lives under node N's devices root."""
    return cluster.spec.devices_root(int(device[1:]) - 1) / device


def holders(cluster: RunningCluster, objects_dir: str) -> dict[str, list[Path]]:
    """device -> the .data files under its ``objects_dir``."""
    found = {}
    for i in range(len(cluster.spec.nodes)):
        device = f"d{i + 1}"
        files = sorted((device_dir(cluster, device) / objects_dir).rglob("*.data"))
        if files:
            found[device] = files
    return found


def make_container(cluster: RunningCluster, name: str, policy: str | None) -> None:
    headers = {} if policy is None else {"X_Storage_Policy": policy}
    assert call(cluster, "PUT", name, **headers).status_code == 201


def test_a_silver_containers_objects_live_in_objects_1_on_its_ring(cluster: RunningCluster) -> None:
    make_container(cluster, "silver-box", "silver")
    # An object the two rings place differently, so the disk shows which ring placed it.
    gold_ring, silver_ring = ring_of(cluster, 0), ring_of(cluster, 1)
    name = next(f"o{i}" for i in range(1000)
                if {d.device for d in gold_ring.get_nodes("AUTH_test", "silver-box", f"o{i}")[1]}
                != {d.device for d in silver_ring.get_nodes("AUTH_test", "silver-box", f"o{i}")[1]})
    assert call(cluster, "PUT", f"silver-box/{name}", body=b"shiny").status_code == 201
    part, primaries = silver_ring.get_nodes("AUTH_test", "silver-box", name)
    placed = holders(cluster, "objects-1")
    assert sorted(placed) == sorted(d.device for d in primaries)
    assert all(f"/objects-1/{part}/" in str(files[0]) for files in placed.values())
    assert holders(cluster, "objects") == {}
    assert call(cluster, "GET", f"silver-box/{name}").content == b"shiny"


def test_a_containers_policy_is_fixed_for_its_life(cluster: RunningCluster) -> None:
    make_container(cluster, "fixed", "silver")
    assert call(cluster, "PUT", "fixed", X_Storage_Policy="Policy-0").status_code == 409
    assert call(cluster, "PUT", "fixed").status_code == 202
    assert call(cluster, "POST", "fixed", X_Storage_Policy="Policy-0").status_code == 204
    assert call(cluster, "HEAD", "fixed").headers["X-Storage-Policy"] == "silver"
    assert call(cluster, "PUT", "other", X_Storage_Policy="no-such").status_code == 400
    # Deleted, it has no policy; put again, it takes the one now asked for.
    assert call(cluster, "DELETE", "fixed").status_code == 204
    gone = call(cluster, "HEAD", "fixed")
    assert gone.status_code == 404 and "X-Storage-Policy" not in gone.headers
    assert call(cluster, "PUT", "fixed", X_Storage_Policy="policy-0").status_code == 201
    assert call(cluster, "HEAD", "fixed").headers["X-Storage-Policy"] == "Policy-0"
    # /info shows both.
    info = requests.get(f"{cluster.proxy}/info", timeout=10).json()
    assert [(p["name"], p.get("default", False)) for p in info["swift"]["policies"]] == [
        ("Policy-0", True), ("silver", False)]


def test_listings_and_account_totals_per_policy(cluster: RunningCluster) -> None:
    make_container(cluster, "stats-gold", None)
    make_container(cluster, "stats-silver", "silver")
    for i in range(3):
        assert call(cluster, "PUT", f"stats-silver/s{i}", body=b"12345").status_code == 201
    assert call(cluster, "PUT", "stats-gold/g", body=b"1").status_code == 201

    def reported() -> requests.Response | None:
        head = call(cluster, "HEAD")
        silver = int(head.headers.get("X-Account-Storage-Policy-silver-Bytes-Used", "0"))
        gold = int(head.headers.get("X-Account-Storage-Policy-Policy-0-Object-Count", "0"))
        return head if silver >= 15 and gold >= 1 else None

    head = wait_for(reported, 30, "the containers' debounced reports")
    silver_objects = int(head.headers["X-Account-Storage-Policy-silver-Object-Count"])
    assert silver_objects >= 3 and int(head.headers["X-Account-Storage-Policy-silver-Container-Count"]) >= 1
    base, token = cluster.auth()
    listing = requests.get(base, params={"format": "json"}, headers={"X-Auth-Token": token}, timeout=10).json()
    policies = {entry["name"]: entry["storage_policy"] for entry in listing}
    assert policies["stats-gold"] == "Policy-0" and policies["stats-silver"] == "silver"
    xml = requests.get(base, params={"format": "xml"}, headers={"X-Auth-Token": token}, timeout=10).text
    assert "<name>stats-silver</name><count>3</count><bytes>15</bytes>" in xml
    assert "<storage_policy>silver</storage_policy>" in xml
    silver = call(cluster, "HEAD", "stats-silver")
    assert (silver.headers["X-Container-Object-Count"], silver.headers["X-Storage-Policy"]) == ("3", "silver")


def test_copies_cross_policies(cluster: RunningCluster) -> None:
    make_container(cluster, "copy-gold", "Policy-0")
    make_container(cluster, "copy-silver", "silver")
    assert call(cluster, "PUT", "copy-gold/a", body=b"from gold").status_code == 201
    assert call(cluster, "PUT", "copy-silver/b", body=b"from silver").status_code == 201
    assert call(cluster, "PUT", "copy-silver/a", X_Copy_From="copy-gold/a", Content_Length="0").status_code == 201
    assert call(cluster, "COPY", "copy-silver/b", Destination="copy-gold/b").status_code == 201
    assert call(cluster, "GET", "copy-silver/a").content == b"from gold"
    assert call(cluster, "GET", "copy-gold/b").content == b"from silver"


def test_a_lost_policy_1_replica_is_replicated_back(cluster: RunningCluster) -> None:
    make_container(cluster, "repl", "silver")
    assert call(cluster, "PUT", "repl/o", body=b"keep me").status_code == 201
    part, primaries = ring_of(cluster, 1).get_nodes("AUTH_test", "repl", "o")
    lost = primaries[0].device
    partition_dir = device_dir(cluster, lost) / "objects-1" / str(part)
    # Other tests' objects may share the partition: all of them come back.
    held = {path.relative_to(partition_dir) for path in partition_dir.rglob("*.data")}
    assert held
    # The whole partition, hashes file included, as a replaced disk would lose it.
    for path in sorted(partition_dir.rglob("*"), reverse=True):
        path.unlink() if not path.is_dir() else path.rmdir()
    partition_dir.rmdir()

    def restored() -> bool:
        return partition_dir.exists() and held <= {p.relative_to(partition_dir) for p in partition_dir.rglob("*.data")}

    wait_for(restored, 60, "the replicator to push the policy-1 objects back")
    assert b"keep me" in {(partition_dir / path).read_bytes() for path in held}


def test_updates_of_policy_1_objects_wait_in_async_pending_1(cluster: RunningCluster) -> None:
    container = container_on(cluster, "d4")
    make_container(cluster, container, "silver")
    cluster.stop_storage("storage4")
    try:
        for i in range(6):
            assert call(cluster, "PUT", f"{container}/q{i}", body=b"x").status_code == 201
        queued = [p for i in range(3) for p in (device_dir(cluster, f"d{i + 1}") / "async_pending-1").rglob("*-*")
                  if p.is_file()]
        assert queued, "updates for d4's container replica wait in async_pending-1"
    finally:
        cluster.start_storage("storage4")

    def delivered() -> bool:
        return not any(p.is_file() for i in range(3)
                       for p in (device_dir(cluster, f"d{i + 1}") / "async_pending-1").rglob("*"))

    wait_for(delivered, 60, "the updater to deliver async_pending-1")
    assert call(cluster, "HEAD", container).headers["X-Container-Object-Count"] == "6"
