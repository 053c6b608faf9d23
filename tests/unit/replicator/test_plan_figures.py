"""Pass figures: the progress line, the stats file, and the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ops.main import main
from replicator.stats import PassStats, Progress, progress_line, write_stats


def test_progress_line_per_daemon() -> None:
    stats = PassStats(partitions_total=64, partitions_checked=10, objects_pushed=3, failures=1)
    line = progress_line("replicator", stats)
    assert line.startswith("replicator: 10/64 partitions") and "3 pushed" in line and "1 failures" in line
    assert "quarantined" in progress_line("auditor", PassStats(quarantined=2))
    assert "rows pushed" in progress_line("db-replicator", PassStats(rows_pushed=5))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    Progress("replicator", True, stream=quiet).done(PassStats())
    assert quiet.getvalue() == ""
    tty = _Terminal()
    progress = Progress("replicator", True, stream=tty, every=0.0)
    progress.show(PassStats(partitions_checked=1))
    progress.done(PassStats(partitions_checked=2))
    assert tty.getvalue().startswith("\rreplicator: 1/?") and tty.getvalue().endswith("\n")


def test_stats_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "object-replicator.json"
    stats = PassStats(partitions_checked=7)
    stats.finish()
    write_stats(target, "object-replicator", stats)
    data = json.loads(target.read_text())
    assert data["daemon"] == "object-replicator" and data["partitions_checked"] == 7
    assert "started" not in data and data["seconds"] >= 0
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_bad_partitions_argument_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "storage.conf"
    conf.write_text(f"[storage]\ndevices = {tmp_path}\ncluster_conf =\n")
    assert main(["replicator", "--config", str(conf), "--once", "--partitions", "1,x"]) == 2
    assert "--partitions" in capsys.readouterr().err


def test_missing_ring_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "martlet.conf").write_text(f"[hash]\npath_suffix = x\n[cluster]\nring_dir = {tmp_path}\nsecret = s\n")
    conf = tmp_path / "storage.conf"
    conf.write_text(f"[storage]\ndevices = {tmp_path}\ncluster_conf = martlet.conf\n")
    assert main(["replicator", "--config", str(conf), "--once"]) == 2
    assert "object.ring" in capsys.readouterr().err


def test_missing_secret_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Peers refuse unsigned requests, so a replicator without the cluster
    secret stops at once rather than fail every request."""
    (tmp_path / "martlet.conf").write_text(f"[hash]\npath_suffix = x\n[cluster]\nring_dir = {tmp_path}\n")
    conf = tmp_path / "storage.conf"
    conf.write_text(f"[storage]\ndevices = {tmp_path}\ncluster_conf = martlet.conf\n")
    for daemon in ("replicator", "db-replicator", "updater", "storage"):
        assert main([daemon, "--config", str(conf), "--once"] if daemon != "storage" else
                    [daemon, "--config", str(conf)]) == 2
        assert "[cluster] secret" in capsys.readouterr().err
