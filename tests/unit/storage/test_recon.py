"""storage.recon: the node report read from real files (pass stats written
by the replicator's own writer, async_pending records by storage's)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from martlet.backend_auth import BackendKey
from martlet.hashing import HashSection
from martlet.timestamp import Timestamp
from replicator.stats import PassStats, write_stats
from storage.async_pending import PendingUpdate, write_pending
from storage.recon import count_async_pending, pass_metrics, read_pass, scan_node

KEY = BackendKey.from_secret("test")


def pending(i: int) -> PendingUpdate:
    stamp = Timestamp.parse(f"{1_700_000_000 + i}.00000").normal
    return PendingUpdate(method="PUT", host="127.0.0.1:6200", device="d1", partition=1, account="a",
                         container="c", obj=f"o{i}", headers={"X-Timestamp": stamp})


def test_scan_reports_devices_queues_and_passes(tmp_path: Path) -> None:
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    for i in range(5):
        write_pending(tmp_path / "d1", pending(i), HashSection(), fsync=False)
    stats = PassStats(partitions_checked=7, objects_pushed=2, failures=1)
    stats.finish()
    write_stats(tmp_path / "object-replicator.json", "object-replicator", stats)
    files = {"object-replicator": tmp_path / "object-replicator.json", "auditor": tmp_path / "auditor.json"}
    report = scan_node(tmp_path, files)
    assert [(d.device, d.mounted, d.async_pending) for d in report.devices] == [("d1", True, 5), ("d2", True, 0)]
    assert report.devices[0].size > 0 and 0 <= report.devices[0].available <= report.devices[0].size
    assert set(report.passes) == {"object-replicator"}, "no auditor file yet, and a stats file is not a device"
    data = report.to_json()
    assert data["async_pending"] == 5 and data["passes"]["object-replicator"]["objects_pushed"] == 2


def test_count_ignores_a_missing_queue(tmp_path: Path) -> None:
    assert count_async_pending(tmp_path / "nothing") == 0


def test_a_torn_stats_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "auditor.json"
    path.write_text('{"finished_at": 12')
    assert read_pass(path) is None
    path.write_text("[1, 2]")
    assert read_pass(path) is None


class Fixed:
    def __init__(self, passes: dict) -> None:
        self.passes = passes

    def collect(self):  # type: ignore[no-untyped-def]
        return pass_metrics(self.passes)


def test_pass_figures_in_prometheus_text() -> None:
    registry = CollectorRegistry()
    registry.register(Fixed({"auditor": {"daemon": "auditor", "finished_at": 1700000000.5, "seconds": 2.5,
                                         "quarantined": 1, "files_checked": 10}}))
    text = generate_latest(registry).decode()
    assert 'martlet_last_pass_finished_timestamp_seconds{daemon="auditor"} 1.7000000005e+09' in text
    assert 'martlet_last_pass_duration_seconds{daemon="auditor"} 2.5' in text
    assert 'martlet_last_pass_count{daemon="auditor",figure="quarantined"} 1.0' in text
    assert 'figure="daemon"' not in text, "strings are not figures"


def test_stats_files_follow_the_config(tmp_path: Path) -> None:
    from martlet.cluster import load_cluster_config
    from storage.config import StorageConfig, StorageSection, load_storage_config
    from storage.recon import stats_files

    built = StorageConfig(StorageSection(devices=str(tmp_path)), load_cluster_config(None), path="<test>")
    assert stats_files(built)["auditor"] == tmp_path / "auditor.json"
    conf = tmp_path / "storage.conf"
    conf.write_text(f"[storage]\ndevices = {tmp_path}\ncluster_conf =\n[auditor]\nstats_file = /var/cache/a.json\n")
    files = stats_files(load_storage_config(conf))
    assert files["auditor"] == Path("/var/cache/a.json")
    assert files["object-replicator"] == tmp_path / "object-replicator.json"


async def test_an_updater_pass_is_in_the_node_report(tmp_path: Path) -> None:
    """The updater writes its pass to its stats file like the other daemons,
    and /recon's scan and /metrics' figures read it with no special case."""
    import socket

    from replicator.updater import Updater, UpdaterSection
    from storage.config import StorageConfig, StorageSection
    from martlet.cluster import load_cluster_config
    from storage.recon import stats_files

    # A port nobody listens on: the update is refused, so it stays queued.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    (tmp_path / "d1").mkdir()
    record = pending(1)
    record = PendingUpdate(**{**record.__dict__, "host": f"127.0.0.1:{dead_port}"})
    write_pending(tmp_path / "d1", record, HashSection(), fsync=False)
    updater = Updater(tmp_path, UpdaterSection(conn_timeout=0.5, node_timeout=2.0), KEY, fsync=False)
    async with updater.make_client() as client:
        await updater.run_pass(client, once=True)

    config = StorageConfig(StorageSection(devices=str(tmp_path)), load_cluster_config(None), path="<test>")
    files = stats_files(config)
    assert files["updater"] == tmp_path / "updater.json"
    report = scan_node(tmp_path, files)
    figures = report.passes["updater"]
    assert figures["daemon"] == "updater"
    assert (figures["sent"], figures["failed"], figures["succeeded"]) == (1, 1, 0)
    assert isinstance(figures["finished_at"], float) and figures["seconds"] >= 0
    assert [d.device for d in report.devices] == ["d1"], "updater.json is not a device"
    registry = CollectorRegistry()
    registry.register(Fixed(report.passes))
    text = generate_latest(registry).decode()
    assert 'martlet_last_pass_count{daemon="updater",figure="failed"} 1.0' in text
    assert 'martlet_last_pass_duration_seconds{daemon="updater"}' in text


def test_the_updater_stats_file_follows_its_section(tmp_path: Path) -> None:
    from replicator.updater import Updater, UpdaterSection
    from storage.config import load_storage_config
    from storage.recon import stats_files

    conf = tmp_path / "storage.conf"
    conf.write_text(f"[storage]\ndevices = {tmp_path}\ncluster_conf =\n[updater]\nstats_file = {tmp_path}/u.json\n")
    assert stats_files(load_storage_config(conf))["updater"] == tmp_path / "u.json"
    assert Updater(tmp_path, UpdaterSection(stats_file=str(tmp_path / "u.json")), KEY).stats_file == tmp_path / "u.json"
