"""What a storage node tells operators: ``GET /recon`` (JSON, read by
``martlet status``) and the node's figures on ``GET /metrics``.

Per device: whether it is there (a directory under the devices root), its
size/used/available bytes, and the depth of its ``async_pending/`` queue.
Per background daemon (object replicator, database replicator, auditor,
updater):
the figures of its last pass. Those daemons are other processes, so they
leave their figures in a stats file each (``replicator.stats.write_stats``:
one JSON object, replaced atomically; format in docs/architecture.md,
"Recon"), by default ``<devices>/<daemon>.json``, or where their section's
``stats_file`` says. This module only reads those files; it imports
nothing of ``replicator/``.

All of it is blocking disk work, so it runs in a thread, at most once per
``REFRESH_SECONDS`` however often /recon and /metrics are asked.

Under ``martlet node`` the daemon also reports its node: the supervisor's
report of every daemon it runs (state, restarts, last error), given as a
callable (``martlet.serve.SupervisorReport``) and read fresh on every /recon;
``/metrics`` shows it as ``martlet_node_daemon_up`` and
``martlet_node_daemon_restarts``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, Metric

from martlet.metrics import install_metrics
from martlet.serve import SupervisorReport
from storage.config import StorageConfig
from storage.devices import policy_dirs
from storage.layout import ASYNC_PENDING, stats_file
# Stats-file daemons: (config section naming its stats_file, default file name).
PASS_DAEMONS = (
    ("object-replicator", "replicator"),
    ("db-replicator", "db-replicator"),
    ("auditor", "auditor"),
    ("updater", "updater"),
    ("expirer", "expirer"),
)
REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class StatsFileSection:
    """The one key of ``[replicator]``, ``[db-replicator]``, ``[auditor]`` and
    ``[updater]`` that this node's reports need: where that daemon leaves its figures."""

    stats_file: str = ""


@dataclass(frozen=True)
class DeviceReport:
    device: str
    mounted: bool
    size: int = 0
    used: int = 0
    available: int = 0
    async_pending: int = 0


@dataclass(frozen=True)
class NodeReport:
    time: float
    devices: tuple[DeviceReport, ...]
    # daemon -> the stats file's JSON object (with "finished_at"), if present
    passes: dict[str, dict[str, object]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "time": self.time,
            "devices": [asdict(d) for d in self.devices],
            "async_pending": sum(d.async_pending for d in self.devices),
            "passes": self.passes,
        }


def stats_files(config: StorageConfig) -> dict[str, Path]:
    """daemon name -> its stats file, as that daemon resolves it."""
    files = {}
    for daemon, section in PASS_DAEMONS:
        configured = config.section(section, StatsFileSection).stats_file
        files[daemon] = stats_file(config.devices_root, daemon, configured)
    return files


def count_async_pending(device_path: Path) -> int:
    """Queued updates: files in ``async_pending/<suffix>/`` of every storage
    policy (temp files of writes in flight live in ``tmp/``, so every file
    here is one update)."""
    total = 0
    suffixes: list[os.DirEntry[str]] = []
    for _policy, root in policy_dirs(device_path, ASYNC_PENDING):
        try:
            suffixes += list(os.scandir(root))
        except OSError:
            continue
    for suffix in suffixes:
        try:
            with os.scandir(suffix.path) as entries:
                total += sum(1 for e in entries if e.is_file(follow_symlinks=False))
        except OSError:
            continue  # removed by the updater meanwhile
    return total


def device_report(root: Path, name: str) -> DeviceReport:
    path = root / name
    if not path.is_dir():
        return DeviceReport(name, mounted=False)
    try:
        st = os.statvfs(path)
    except OSError:
        return DeviceReport(name, mounted=False)
    size = st.f_blocks * st.f_frsize
    available = st.f_bavail * st.f_frsize
    used = size - st.f_bfree * st.f_frsize
    return DeviceReport(name, True, size, used, available, count_async_pending(path))


def read_pass(path: Path) -> dict[str, object] | None:
    """A stats file's object, or None if absent or half-readable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def scan_node(root: Path, files: dict[str, Path]) -> NodeReport:
    """Blocking: the node's report now. Devices are the directories under
    the root (plus none invented); a stats file is not a device."""
    try:
        names = sorted(e.name for e in os.scandir(root) if e.is_dir())
    except OSError:
        names = []
    devices = tuple(device_report(root, n) for n in names)
    passes = {}
    for daemon, path in files.items():
        data = read_pass(path)
        if data is not None:
            passes[daemon] = data
    return NodeReport(time.time(), devices, passes)


class Recon:
    """The cached report of one storage daemon, refreshed off the loop."""

    def __init__(self, config: StorageConfig, node_report: SupervisorReport | None = None) -> None:
        self.root = config.devices_root
        self.files = stats_files(config)
        self.report = NodeReport(0.0, ())
        self.node_report = node_report
        self._lock = asyncio.Lock()

    def to_json(self) -> dict[str, object]:
        """The last report, with the node's (when a supervisor runs us) as ``node``."""
        data = self.report.to_json()
        if self.node_report is not None:
            data["node"] = dict(self.node_report())
        return data

    async def refresh(self) -> NodeReport:
        async with self._lock:
            if time.time() - self.report.time >= REFRESH_SECONDS:
                self.report = await asyncio.to_thread(scan_node, self.root, self.files)
        return self.report

    def collect(self) -> Iterator[Metric]:
        """Prometheus collector over the last refreshed report."""
        report = self.report
        mounted = GaugeMetricFamily("martlet_device_mounted", "1 if the device directory is there.", labels=["device"])
        size = GaugeMetricFamily("martlet_device_size_bytes", "Size of the device's filesystem.", labels=["device"])
        used = GaugeMetricFamily("martlet_device_used_bytes", "Bytes used on the device's filesystem.", labels=["device"])
        avail = GaugeMetricFamily("martlet_device_available_bytes", "Bytes free for writes.", labels=["device"])
        pending = GaugeMetricFamily("martlet_async_pending", "Container/account updates queued.", labels=["device"])
        for dev in report.devices:
            mounted.add_metric([dev.device], 1.0 if dev.mounted else 0.0)
            if dev.mounted:
                size.add_metric([dev.device], dev.size)
                used.add_metric([dev.device], dev.used)
                avail.add_metric([dev.device], dev.available)
                pending.add_metric([dev.device], dev.async_pending)
        yield from (mounted, size, used, avail, pending)
        yield from pass_metrics(report.passes)
        if self.node_report is not None:
            yield from node_metrics(self.node_report())


def pass_metrics(passes: dict[str, dict[str, object]]) -> Iterator[Metric]:
    finished = GaugeMetricFamily(
        "martlet_last_pass_finished_timestamp_seconds", "When the daemon's last pass ended.", labels=["daemon"])
    seconds = GaugeMetricFamily("martlet_last_pass_duration_seconds", "How long the last pass took.", labels=["daemon"])
    figures = GaugeMetricFamily(
        "martlet_last_pass_count", "Counters of the last pass (partitions, objects pushed, quarantined, ...).",
        labels=["daemon", "figure"])
    for daemon, data in sorted(passes.items()):
        for key, value in sorted(data.items()):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if key == "finished_at":
                finished.add_metric([daemon], float(value))
            elif key == "seconds":
                seconds.add_metric([daemon], float(value))
            else:
                figures.add_metric([daemon, key], float(value))
    yield from (finished, seconds, figures)


def node_metrics(node: Mapping[str, object]) -> Iterator[Metric]:
    """The supervisor's report as gauges: each daemon up or not, and its restarts."""
    up = GaugeMetricFamily("martlet_node_daemon_up", "1 while the node's daemon runs.", labels=["daemon"])
    restarts = GaugeMetricFamily(
        "martlet_node_daemon_restarts", "Times the node restarted the daemon after it failed.", labels=["daemon"])
    daemons = node.get("daemons")
    for name, state in sorted(daemons.items()) if isinstance(daemons, dict) else ():
        if isinstance(state, dict):
            up.add_metric([name], 1.0 if state.get("state") == "running" else 0.0)
            count = state.get("restarts")
            restarts.add_metric([name], float(count) if isinstance(count, int) else 0.0)
    yield from (up, restarts)


RECON: web.AppKey[Recon] = web.AppKey("recon", Recon)


async def recon_handler(request: web.Request) -> web.Response:
    recon = request.app[RECON]
    await recon.refresh()
    return web.json_response(recon.to_json())


def install(app: web.Application, config: StorageConfig, node_report: SupervisorReport | None = None) -> None:
    """``GET /recon`` and ``GET /metrics`` for the storage daemon (call
    before the catch-all route is added)."""
    recon = Recon(config, node_report)
    app[RECON] = recon

    async def refresh() -> None:
        await recon.refresh()

    install_metrics(app, collectors=[recon], refresh_hooks=[refresh])
    app.router.add_get("/recon", recon_handler)
