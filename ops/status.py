"""``martlet status``: one report of a cluster for operators.

Two parts. The rings, read from ``ring_dir``: every device with its weight,
the partition-replicas it holds and its balance (percent above or below
its share by weight). The storage nodes the rings name, each asked for
``GET /recon`` (``storage.recon``): reachable or not, its devices and disk
usage, the depth of its async_pending queues, its daemons under ``martlet
node`` (how many run, which do not), and the last pass of its
replicator, database replicator, auditor, updater and expirer with their age.

Gathering (files, HTTP) and rendering (pure, tested directly) are apart.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from martlet.cluster import ClusterConfig
from martlet.netaddr import host_port

if TYPE_CHECKING:
    from ring import Device

PASS_COLUMNS = (
    ("object-replicator", "replication"),
    ("db-replicator", "db replication"),
    ("auditor", "audit"),
    ("updater", "updates"),
    ("expirer", "expiry"),
)


@dataclass(frozen=True)
class DeviceRow:
    """A ring device with what it holds: partition-replicas, and balance
    (percent above or below its share by weight)."""

    dev: Device
    partitions: int
    balance: float


@dataclass(frozen=True)
class RingReport:
    kind: str
    partitions: int
    replicas: int
    devices: tuple[DeviceRow, ...]
    error: str = ""

    @property
    def balance(self) -> float:
        weighted = [abs(d.balance) for d in self.devices if d.dev.weight > 0]
        return max(weighted, default=0.0)


@dataclass(frozen=True)
class NodeStatus:
    address: str  # ip:port
    reachable: bool
    error: str = ""
    recon: dict[str, Any] = field(default_factory=dict)
    # The devices the rings put on this node; the report covers these only
    # (an empty directory under its devices root is not a device of it).
    ring_devices: tuple[str, ...] = ()

    def devices(self) -> list[dict[str, Any]]:
        """The node's ring devices as /recon reported them; one it did not
        report counts as not mounted."""
        reported = {d.get("device"): d for d in self.recon.get("devices", []) if isinstance(d, dict)}
        return [reported.get(name, {"device": name, "mounted": False}) for name in self.ring_devices]

    @property
    def async_pending(self) -> int:
        return sum(int(d.get("async_pending", 0)) for d in self.devices())

    def daemons(self) -> dict[str, str] | None:
        """Daemon -> state under ``martlet node``; None for a storage daemon
        run on its own."""
        node = self.recon.get("node")
        if not isinstance(node, dict) or not isinstance(node.get("daemons"), dict):
            return None
        return {name: str(s.get("state")) if isinstance(s, dict) else "unknown" for name, s in node["daemons"].items()}

    @property
    def daemons_down(self) -> list[str]:
        return [name for name, state in (self.daemons() or {}).items() if state != "running"]


@dataclass(frozen=True)
class ClusterStatus:
    time: float
    rings: tuple[RingReport, ...]
    nodes: tuple[NodeStatus, ...]

    @property
    def healthy(self) -> bool:
        devices_ok = all(d.get("mounted") for n in self.nodes if n.reachable for d in n.devices())
        daemons_ok = not any(n.daemons_down for n in self.nodes if n.reachable)
        return (all(n.reachable for n in self.nodes) and devices_ok and daemons_ok
                and not any(r.error for r in self.rings))


def device_rows(devices: Sequence[Device | None], assignment: Sequence[Sequence[int]], partition_count: int) -> tuple[DeviceRow, ...]:
    """Pure: partition-replicas per device and balance against weight."""
    # One bincount per replica: a real ring has millions of partition-replicas.
    counts = np.zeros(len(devices), dtype=np.int64)
    for replica in assignment:
        counts += np.bincount(np.asarray(replica, dtype=np.int64), minlength=len(devices))[: len(devices)]
    live = [d for d in devices if d is not None]
    total_weight = sum(d.weight for d in live)
    slots = sum(len(replica) for replica in assignment) or partition_count
    rows = []
    for dev in live:
        parts = int(counts[dev.id])
        target = slots * dev.weight / total_weight if total_weight else 0.0
        if target > 0:
            balance = (parts - target) * 100.0 / target
        else:
            balance = 0.0 if parts == 0 else 999.99
        rows.append(DeviceRow(dev, parts, round(balance, 2)))
    return tuple(rows)


def ring_report(cluster: ClusterConfig, kind: str, path: Path | None = None) -> RingReport:
    """The report of ring ``kind`` (a ring name: ``object-1`` for a storage
    policy's), read from ``path`` (default: the kind's ring)."""
    from martlet.errors import RingError
    from ring import load_ring

    try:
        ring = load_ring(path or cluster.ring_path(kind), cluster.hash)
    except (RingError, OSError) as exc:
        return RingReport(kind, 0, 0, (), error=str(exc))
    rows = device_rows(ring.devices, ring.replica2part2dev, ring.partition_count)
    return RingReport(kind, ring.partition_count, ring.replica_count, rows)


def fetch_recon(address: str, devices: tuple[str, ...], timeout: float) -> NodeStatus:
    url = f"http://{address}/recon"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            data = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return NodeStatus(address, False, f"HTTP {exc.code}", ring_devices=devices)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return NodeStatus(address, False, str(reason), ring_devices=devices)
    if not isinstance(data, dict):
        return NodeStatus(address, False, "unexpected /recon answer", ring_devices=devices)
    return NodeStatus(address, True, recon=data, ring_devices=devices)


def node_devices(rings: Sequence[RingReport]) -> dict[str, tuple[str, ...]]:
    """Pure: ``ip:port`` of every storage node the rings name -> its devices."""
    seen: dict[str, dict[str, None]] = {}
    for report in rings:
        for row in report.devices:
            seen.setdefault(host_port(row.dev.ip, row.dev.port), {}).setdefault(row.dev.device, None)
    return {address: tuple(devices) for address, devices in seen.items()}


def gather(cluster: ClusterConfig, timeout: float = 3.0) -> ClusterStatus:
    rings = tuple(ring_report(cluster, name, path) for name, path in cluster.ring_paths().items())
    nodes_devices = node_devices(rings)
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(nodes_devices)))) as pool:
        nodes = tuple(pool.map(lambda item: fetch_recon(item[0], item[1], timeout), nodes_devices.items()))
    return ClusterStatus(time.time(), rings, nodes)


# -- rendering (pure) ---------------------------------------------------------------

def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} PiB"  # unreachable, for the type checker


def human_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def pass_cell(recon: dict[str, Any], daemon: str, now: float) -> str:
    data = recon.get("passes", {}).get(daemon)
    if not isinstance(data, dict) or not isinstance(data.get("finished_at"), (int, float)):
        return "never"
    age = human_age(max(0.0, now - float(data["finished_at"])))
    # The updater counts updates not delivered as "failed".
    failures = data.get("failures", data.get("failed", 0))
    return f"{age} ago, {failures} failures" if failures else f"{age} ago"


def render_ring(report: RingReport) -> list[str]:
    if report.error:
        return [f"{report.kind} ring: cannot read: {report.error}"]
    head = (f"{report.kind} ring: {report.partitions} partitions, {report.replicas} replicas, "
            f"{len(report.devices)} devices, balance {report.balance:.2f}")
    rows = [[str(r.dev.id), str(r.dev.region), str(r.dev.zone), host_port(r.dev.ip, r.dev.port), r.dev.device,
             f"{r.dev.weight:.2f}", str(r.partitions), f"{r.balance:.2f}"] for r in report.devices]
    return [head, *("  " + s for s in table(
        ["id", "region", "zone", "address", "device", "weight", "partitions", "balance"], rows))]


def daemons_cell(node: NodeStatus) -> str:
    daemons = node.daemons()
    if daemons is None:
        return "-"
    down = node.daemons_down
    cell = f"{len(daemons) - len(down)}/{len(daemons)}"
    return f"{cell} ({', '.join(f'{n} {daemons[n]}' for n in down)})" if down else cell


def node_row(node: NodeStatus, now: float) -> list[str]:
    if not node.reachable:
        return [node.address, f"UNREACHABLE ({node.error})", "-", "-", "-", "-", *("-" for _ in PASS_COLUMNS)]
    devices = node.devices()
    mounted = [d for d in devices if d.get("mounted")]
    used = sum(int(d.get("used", 0)) for d in mounted)
    size = sum(int(d.get("size", 0)) for d in mounted)
    usage = f"{human_bytes(used)} / {human_bytes(size)}" if size else "-"
    missing = [d["device"] for d in devices if not d.get("mounted")]
    state = "up" if not missing else f"up, unmounted: {','.join(missing)}"
    return [node.address, state, f"{len(mounted)}/{len(devices)}", usage,
            str(node.async_pending), daemons_cell(node),
            *(pass_cell(node.recon, daemon, now) for daemon, _ in PASS_COLUMNS)]


def render(status: ClusterStatus) -> str:
    lines: list[str] = []
    for report in status.rings:
        lines.extend(render_ring(report))
        lines.append("")
    lines.append(f"storage nodes: {sum(n.reachable for n in status.nodes)}/{len(status.nodes)} reachable")
    headers = ["address", "state", "devices", "disk used", "async_pending", "daemons",
               *(c for _, c in PASS_COLUMNS)]
    lines.extend("  " + s for s in table(headers, [node_row(n, status.time) for n in status.nodes]))
    return "\n".join(lines) + "\n"


def ring_json(report: RingReport) -> dict[str, Any]:
    """A ring's report with each device flat: its fields, partitions, balance."""
    devices = [{**row.dev.to_dict(), "partitions": row.partitions, "balance": row.balance}
               for row in report.devices]
    return {"kind": report.kind, "partitions": report.partitions, "replicas": report.replicas,
            "devices": devices, "error": report.error, "balance": report.balance}


def to_json(status: ClusterStatus) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "time": status.time,
        "healthy": status.healthy,
        "rings": [ring_json(r) for r in status.rings],
        "nodes": [asdict(n) for n in status.nodes],
    }
