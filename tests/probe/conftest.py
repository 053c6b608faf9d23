"""Probe fixtures: a fresh real cluster per test (each test damages it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.probe.probe_cluster import ProbeCluster, start_probe_cluster


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/probe/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.probe)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ProbeCluster]:
    running = start_probe_cluster(tmp_path / "cluster")
    try:
        yield running
    finally:
        running.close()
