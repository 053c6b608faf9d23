"""``martlet node`` for real: one storage node's daemons in one process,
its report on /recon and /metrics, ``martlet healthcheck`` on it, a daemon
that fails after SIGHUP (a config broken meanwhile) waiting in backoff and
coming back once the config is fixed, a busy port told in one line, and
SIGTERM ending it all."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ops.dev_cluster import DevSpec, create_cluster
from ops.dev_processes import martlet_argv
from tests.cluster.cluster_harness import wait_for
from tests.cluster.conftest import json_log_lines

pytestmark = pytest.mark.cluster

DAEMONS = ["storage", "replicator", "db-replicator", "auditor", "updater", "expirer"]


class Node:
    def __init__(self, spec: DevSpec) -> None:
        self.spec = spec
        self.conf = spec.storage_conf(0)
        self.log = spec.data_dir / "node1.log"
        self.url = f"http://127.0.0.1:{spec.storage_ports[0]}"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(martlet_argv("node", "--config", str(self.conf)),
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(martlet_argv("healthcheck", "--config", str(self.conf)),
                              capture_output=True, text=True, timeout=30)

    def daemons(self) -> dict[str, Any]:
        return requests.get(self.url + "/recon", timeout=5).json()["node"]["daemons"]

    def log_lines(self) -> list[dict[str, Any]]:
        return json_log_lines(self.log)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    spec = DevSpec.ephemeral(tmp_path_factory.mktemp("node"), fsync=False, part_power=4)
    create_cluster(spec)
    with open(spec.storage_conf(0), "a", encoding="utf-8") as conf:
        conf.write("\n[node]\nbackoff = 0.2\nmax_backoff = 1\nstop_timeout = 5\n")
    running = Node(spec)
    try:
        wait_for(lambda: running.healthcheck().returncode == 0, 30, "a healthy node")
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def test_every_daemon_runs_in_the_one_process_and_is_reported(node: Node) -> None:
    done = node.healthcheck()
    assert done.returncode == 0
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == DAEMONS
    assert all(state["state"] == "running" for state in node.daemons().values())
    metrics = requests.get(node.url + "/metrics", timeout=5).text
    for name in DAEMONS:
        assert f'martlet_node_daemon_up{{daemon="{name}"}} 1.0' in metrics
    # The background daemons' passes happen inside the node, each line named.
    passes = wait_for(lambda: {ln.get("daemon") for ln in node.log_lines() if "pass" in ln.get("msg", "")}
                      >= {"replicator", "db-replicator", "auditor", "updater", "expirer"} or None, 30, "every pass")
    assert passes
    assert children_of(node.process.pid) == [], "the daemons are threads, not processes"


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _daemons_or_none(node: Node) -> dict[str, Any] | None:
    try:
        return node.daemons()
    except requests.ConnectionError:
        return None


def test_a_daemon_that_fails_waits_in_backoff_and_comes_back(node: Node) -> None:
    text = node.conf.read_text()
    node.conf.write_text(text.replace("[updater]\ninterval = 5", "[updater]\ninterval = soon"))
    node.process.send_signal(signal.SIGHUP)  # every daemon restarts, re-reading the config
    try:
        # SIGHUP restarts the storage daemon too: /recon is briefly not listening.
        failed = wait_for(lambda: (d := _daemons_or_none(node)) and d["updater"]["last_error"] and d["updater"],
                          30, "the updater failing")
        assert "[updater] interval: invalid value 'soon'" in failed["last_error"]
        sick = node.healthcheck()
        assert sick.returncode == 1 and "updater: " in sick.stdout
        assert requests.get(node.url + "/healthcheck", timeout=5).text == "OK", "storage serves on"
    finally:
        node.conf.write_text(text)
    wait_for(lambda: node.healthcheck().returncode == 0, 30, "the updater back")
    assert node.daemons()["updater"]["restarts"] >= 1
    assert node.daemons()["storage"]["restarts"] == 0


def test_a_second_node_on_the_same_port_is_one_line(node: Node) -> None:
    done = subprocess.run(martlet_argv("node", "--config", str(node.conf)), capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("martlet node: storage: 127.0.0.1:") and "is in use" in last
    assert "[storage] bind_ip/bind_port" in last and "Traceback" not in done.stderr
    assert "pass" not in done.stderr, "no background daemon ran on a node whose storage daemon could not start"


def test_sigterm_stops_every_daemon(node: Node) -> None:
    started = time.monotonic()
    node.process.send_signal(signal.SIGTERM)
    assert node.process.wait(timeout=30) == 0
    assert time.monotonic() - started < 15
    with pytest.raises(requests.ConnectionError):
        requests.get(node.url + "/healthcheck", timeout=2)
    assert node.log_lines()[-1]["msg"] == "node stopped"
