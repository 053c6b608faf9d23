"""docker-compose.yml run without Docker: its services' own commands, as
processes on this machine, driven with python-swiftclient.

What Docker would provide is emulated, and only that:

- each named volume is a folder under ``tmp_path/volumes``; a service's
  container paths are mapped through its own mounts (a nested mount such as
  ``d1:/srv/node/d1`` inside ``node1:/srv/node`` is a symlink in ``node1``);
- the checkout ring-init mounts at /project (for its ``.env``) is a folder
  ``tmp_path/project``;
- each storage node's address, its service name ``storageN:6200``, becomes
  its own loopback address ``127.0.0.(N+1)`` on a free port, the proxy's
  ``0.0.0.0:8080`` becomes ``127.0.0.1`` on a free port (fixed ports could
  collide with other test runs);
- the configs ring-init writes hold the container path ``/srv/node``; the
  services of node N get ``MARTLET_STORAGE_DEVICES`` with their mapped
  folder (the documented override for containers).

Start order follows ``depends_on`` and its conditions: a one-shot service
must exit 0, a healthy one must pass its compose healthcheck, run as written.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from swiftclient import client as swift_client

from tests.cluster.cluster_harness import wait_for

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
MARTLET = Path(sys.executable).with_name("martlet")
USER = "test:tester"


def free_port(ip: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


def topological_order(services: dict[str, Any]) -> list[str]:
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"depends_on cycle: {path + (name,)}"
        if name in order:
            return
        for dep in services[name].get("depends_on", {}):
            visit(dep, path + (name,))
        order.append(name)

    for name in services:
        visit(name, ())
    return order


class Topology:
    """The compose file's services as local processes."""

    def __init__(self, tmp: Path, compose: dict[str, Any]) -> None:
        self.tmp = tmp
        self.services: dict[str, Any] = compose["services"]
        self.volumes = tmp / "volumes"
        self.logs = tmp / "logs"
        self.logs.mkdir(parents=True)
        self.addresses: dict[str, str] = {}
        self.loopback: dict[str, str] = {}
        storage = [n for n, s in self.services.items() if s["command"][0] == "node"]
        for index, name in enumerate(sorted(storage)):
            local = f"127.0.0.{index + 2}"
            self.loopback[name] = local
            self.addresses[f"{name}:6200"] = f"{local}:{free_port(local)}"
        self.proxy_port = free_port("127.0.0.1")
        self.addresses["0.0.0.0:8080"] = f"127.0.0.1:{self.proxy_port}"
        self.addresses["127.0.0.1:8080"] = f"127.0.0.1:{self.proxy_port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    # -- what Docker would do ------------------------------------------------------
    def mounts(self, service: str) -> list[tuple[str, Path]]:
        """(container target, host folder), deepest target last."""
        result = []
        for entry in self.services[service].get("volumes", []):
            volume, target = entry.split(":")[:2]
            host = self.tmp / "project" if volume == "." else self.volumes / volume
            result.append((target, host))
        return sorted(result, key=lambda m: len(m[0]))

    def prepare_mounts(self, service: str) -> None:
        mounts = self.mounts(service)
        for _, host in mounts:
            host.mkdir(parents=True, exist_ok=True)
        for target, host in mounts:
            for outer, outer_host in mounts:
                if target != outer and target.startswith(outer + "/"):
                    link = outer_host / target[len(outer) + 1:]
                    if not link.is_symlink():
                        link.symlink_to(host, target_is_directory=True)

    def host_path(self, service: str, path: str) -> str:
        for target, host in reversed(self.mounts(service)):
            if path == target or path.startswith(target + "/"):
                return str(host) + path[len(target):]
        return path  # not a mounted path: a value written into a config

    def translate(self, service: str, text: str) -> str:
        for old, new in self.addresses.items():
            text = text.replace(old, new)
        return self.host_path(service, text) if text.startswith("/") else text

    def environment(self, service: str) -> dict[str, str]:
        env = dict(os.environ)
        for target, host in self.mounts(service):
            if target == "/srv/node":
                env["MARTLET_STORAGE_DEVICES"] = str(host)
        return env

    def argv(self, service: str) -> list[str]:
        return [str(MARTLET), *(self.translate(service, a) for a in self.services[service]["command"])]

    # -- running -----------------------------------------------------------------
    def start(self, service: str) -> None:
        self.prepare_mounts(service)
        log = open(self.logs / f"{service}.log", "ab")
        with log:
            self.processes[service] = subprocess.Popen(
                self.argv(service), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.environment(service), start_new_session=True,
            )

    def run_once(self, service: str, timeout: float = 120) -> str:
        self.prepare_mounts(service)
        done = subprocess.run(self.argv(service), capture_output=True, text=True, timeout=timeout,
                              env=self.environment(service))
        assert done.returncode == 0, f"{service}: {done.stdout}{done.stderr}"
        return done.stdout

    def wait_healthy(self, service: str, timeout: float = 60) -> None:
        test = self.services[service]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[1] == "python3"
        argv = [sys.executable, *(self.translate(service, a) for a in test[2:])]
        deadline = time.monotonic() + timeout
        while True:
            process = self.processes[service]
            assert process.poll() is None, f"{service} exited: {(self.logs / f'{service}.log').read_text()}"
            if subprocess.run(argv, capture_output=True, timeout=10).returncode == 0:
                return
            assert time.monotonic() < deadline, f"{service} not healthy after {timeout}s"
            time.sleep(0.2)

    def up(self) -> None:
        """Like ``docker compose up``: in dependency order, conditions kept."""
        for name in topological_order(self.services):
            for dep, rule in self.services[name].get("depends_on", {}).items():
                if rule["condition"] == "service_healthy":
                    self.wait_healthy(dep)
            if self.services[name].get("restart") == "no":
                self.run_once(name)
            else:
                self.start(name)
        for name in self.services:
            if "healthcheck" in self.services[name]:
                self.wait_healthy(name)

    def down(self, timeout: float = 15) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    # -- clients -----------------------------------------------------------------
    @property
    def cluster_dir(self) -> Path:
        return self.volumes / "cluster"

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}/auth/v1.0"

    @property
    def key(self) -> str:
        """test:tester's key, from the .env ring-init wrote into the checkout."""
        env = (self.tmp / "project" / ".env").read_text()
        return re.search(r"^MARTLET_KEY_TEST_TESTER=(\S+)$", env, re.M)[1]  # type: ignore[index]

    def connection(self) -> swift_client.Connection:
        return swift_client.Connection(authurl=self.auth_url, user=USER, key=self.key, retries=0, timeout=30)

    def storage_url(self, service: str) -> str:
        return "http://" + self.addresses[f"{service}:6200"]


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    topo = Topology(tmp_path_factory.mktemp("compose"), compose)
    try:
        topo.up()
        yield topo
    finally:
        topo.down()


def test_ring_init_made_the_cluster_folder(topology: Topology) -> None:
    from martlet.cluster import load_cluster_config
    from ring import load_ring

    cluster = load_cluster_config(topology.cluster_dir / "martlet.conf")
    assert cluster.hash.path_suffix != "changeme" and len(cluster.hash.path_suffix) == 32
    assert len(cluster.secret) == 64
    # The secrets are those of the checkout's .env, which ring-init made.
    env = (topology.tmp / "project" / ".env").read_text()
    assert f"MARTLET_HASH_PATH_SUFFIX={cluster.hash.path_suffix}\n" in env
    assert f"MARTLET_CLUSTER_SECRET={cluster.secret}\n" in env
    assert "testing" not in (topology.cluster_dir / "proxy.conf").read_text(), "no demo keys in compose"
    for kind in ("account", "container", "object"):
        ring = load_ring(cluster.ring_path(kind), cluster.hash)
        devices = [d for d in ring.devices if d is not None]
        assert ring.replica_count == 3
        assert sorted(d.zone for d in devices) == [1, 2, 3, 4]
        assert sorted(d.ip for d in devices) == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
        assert {d.device for d in devices} == {"disk"}
        assert (topology.cluster_dir / f"{kind}.builder").exists()
    # Every node's device lives in its own volume, as in the compose file.
    for index in range(1, 5):
        assert (topology.volumes / f"node{index}" / "disk").resolve() == topology.volumes / f"d{index}"


def test_swift_client_round_trip(topology: Topology) -> None:
    conn = topology.connection()
    conn.put_container("compose")
    body = os.urandom(200_000)
    etag = conn.put_object("compose", "dir/object.bin", body, content_type="application/octet-stream")
    headers, got = conn.get_object("compose", "dir/object.bin")
    assert got == body and headers["etag"] == etag
    _, listing = conn.get_container("compose")
    assert [o["name"] for o in listing] == ["dir/object.bin"]
    conn.delete_object("compose", "dir/object.bin")
    with pytest.raises(swift_client.ClientException) as err:
        conn.get_object("compose", "dir/object.bin")
    assert err.value.http_status == 404


def test_every_node_reports_its_background_passes(topology: Topology) -> None:
    for service in ("storage1", "storage2", "storage3", "storage4"):
        url = topology.storage_url(service) + "/recon"

        def passes() -> dict[str, Any] | None:
            report = requests.get(url, timeout=5).json()
            names = set(report["passes"])
            return report if {"object-replicator", "db-replicator", "auditor"} <= names else None

        report = wait_for(passes, 60, f"{service} pass stats")
        assert [d["device"] for d in report["devices"]] == ["disk"]
        daemons = report["node"]["daemons"]
        assert list(daemons) == ["storage", "replicator", "db-replicator", "auditor", "updater", "expirer"]
        assert {d["state"] for d in daemons.values()} == {"running"}


def test_status_reports_rings_and_nodes(topology: Topology) -> None:
    wait_for(lambda: all("object-replicator" in requests.get(topology.storage_url(s) + "/recon", timeout=5)
                         .json()["passes"] for s in ("storage1", "storage2", "storage3", "storage4")),
             60, "replication passes")
    done = subprocess.run([str(MARTLET), "status", "--config", str(topology.cluster_dir / "martlet.conf")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "storage nodes: 4/4 reachable" in done.stdout
    for index in range(2, 6):
        row = next(line for line in done.stdout.splitlines() if line.strip().startswith(f"127.0.0.{index}:")
                   and " up" in line)
        assert " 1/1 " in row and "ago" in row


def test_up_again_keeps_config_and_data(topology: Topology) -> None:
    conn = topology.connection()
    conn.put_container("keep")
    conn.put_object("keep", "o", b"still here")
    before = (topology.cluster_dir / "martlet.conf").read_bytes()
    topology.down()
    topology.up()
    assert (topology.cluster_dir / "martlet.conf").read_bytes() == before
    _, body = topology.connection().get_object("keep", "o")
    assert body == b"still here"
