"""Replication repair time and no-op pass time on a real 4-node cluster.

    .venv/bin/python bench/replication_bench.py [--objects 10000] [--part-power 8]

Starts four storage daemons (``martlet dev``'s launcher, ephemeral ports,
fsync off) in a temporary folder, fills the cluster with small objects
(written straight onto each primary device with the storage code's own
writer, so the set-up does not time the proxy), wipes one device, then runs
``martlet replicator --once`` on every node at once, round after round,
until the wiped device holds every object it should. Then times a no-op
pass (every replica already in place). Prints a table: wall time including
process start-up, and the pass durations the replicators report themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from martlet.cluster import load_cluster_config  # noqa: E402
from martlet.timestamp import Timestamp  # noqa: E402
from ops.dev_cluster import DevSpec, create_cluster  # noqa: E402
from ops.dev_processes import DevCluster, martlet_argv  # noqa: E402
from ring import load_ring  # noqa: E402
from storage.diskfile import DATA, DiskFileWriter, object_location  # noqa: E402
from storage.metadata import ObjectMetadata  # noqa: E402


def fill(spec: DevSpec, count: int) -> dict[str, int]:
    """Write ``count`` 1 KiB objects on their three primaries; device -> objects."""
    cluster = load_cluster_config(spec.cluster_conf)
    ring = load_ring(cluster.ring_path("object"), cluster.hash)
    per_device: dict[str, int] = {}
    stamp = Timestamp.now()
    body = os.urandom(1024)
    for i in range(count):
        name = f"bench-{i:06d}"
        part, nodes = ring.get_nodes("AUTH_bench", "c", name)
        for node in nodes:
            root = spec.devices_root(int(node.device[1:]) - 1) / node.device
            location = object_location(root, part, "AUTH_bench", "c", name, cluster.hash)
            writer = DiskFileWriter(location, fsync=False)
            writer.open()
            writer.write(body)
            meta = ObjectMetadata(f"/AUTH_bench/c/{name}", stamp, writer.etag, len(body), "application/octet-stream")
            writer.commit(meta, DATA)
            writer.abort()
            per_device[node.device] = per_device.get(node.device, 0) + 1
    return per_device


def count_data(device_path: Path) -> int:
    total = 0
    for _root, _dirs, files in os.walk(device_path / "objects"):
        total += sum(1 for f in files if f.endswith(".data"))
    return total


def replicate_all(spec: DevSpec) -> tuple[float, list[dict[str, float]]]:
    """One --once pass on every node at once: (wall seconds, each node's figures)."""
    def one(index: int) -> dict[str, float]:
        conf = spec.storage_conf(index)
        argv = martlet_argv("replicator", "--config", str(conf), "--once")
        subprocess.run(argv, check=True, capture_output=True, timeout=1800)
        return json.loads((spec.devices_root(index) / "object-replicator.json").read_text())

    started = time.monotonic()
    with ThreadPoolExecutor(len(spec.storage_ports)) as pool:
        figures = list(pool.map(one, range(len(spec.storage_ports))))
    return time.monotonic() - started, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--part-power", type=int, default=8)
    parser.add_argument("--victim", default="d2", help="device to wipe")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="replication-bench-"))
    spec = DevSpec.ephemeral(work / "cluster", fsync=False, part_power=args.part_power)
    create_cluster(spec)
    processes = DevCluster(spec)
    rows: list[tuple[str, str]] = []
    try:
        processes.start([f"storage{i + 1}" for i in range(len(spec.storage_ports))])
        processes.wait_ready(30, [f"storage{i + 1}" for i in range(len(spec.storage_ports))])
        t0 = time.monotonic()
        per_device = fill(spec, args.objects)
        rows.append(("fill (direct disk writes, 3 replicas)", f"{time.monotonic() - t0:.1f} s"))
        victim = spec.devices_root(int(args.victim[1:]) - 1) / args.victim
        expected = per_device[args.victim]
        shutil.rmtree(victim)
        victim.mkdir()
        repair_wall = 0.0
        rounds = 0
        pushed = 0
        pass_seconds: list[float] = []
        while count_data(victim) < expected and rounds < 5:
            wall, figures = replicate_all(spec)
            rounds += 1
            repair_wall += wall
            pushed += int(sum(f["objects_pushed"] for f in figures))
            pass_seconds.append(max(f["seconds"] for f in figures))
        restored = count_data(victim)
        noop_wall, noop = replicate_all(spec)
        rows += [
            ("objects in the cluster", str(args.objects)),
            (f"objects on the wiped device ({args.victim})", str(expected)),
            ("restored", f"{restored} ({rounds} round(s))"),
            ("files pushed", str(pushed)),
            ("repair: wall time, all nodes at once", f"{repair_wall:.2f} s"),
            ("repair: slowest node's pass (reported)", ", ".join(f"{s:.2f} s" for s in pass_seconds)),
            ("repair rate", f"{restored / max(sum(pass_seconds), 1e-9):.0f} objects/s"),
            ("no-op pass: wall time, all nodes at once", f"{noop_wall:.2f} s"),
            ("no-op pass: slowest node (reported)", f"{max(f['seconds'] for f in noop):.2f} s"),
            ("no-op pass: partitions checked (all nodes)", str(int(sum(f["partitions_checked"] for f in noop)))),
        ]
    finally:
        processes.stop()
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(k) for k, _ in rows)
    print(f"replication bench: part_power {args.part_power}, 4 nodes x 1 device, 3 replicas")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
