"""A real cluster for probe tests: four storage nodes and a proxy as
separate processes (``martlet dev``'s launcher, ``ops.dev_cluster`` and
``ops.dev_processes``, on ephemeral ports), each node running its storage
daemon only (``[node] daemons = storage``): the background daemons do
*not* run, so that each test decides when the replicator, db-replicator,
auditor and updater run (``--once``, as subprocesses). Stopping or killing
a node ends its storage daemon, and nothing restarts it behind the test.

Helpers look at the disk the way the ring says it must be: where each
replica of an object lives, which files its hash directory holds.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from swiftclient import client as swift_client

from martlet.backend_auth import SIGNATURE_HEADER, backend_key
from martlet.cluster import load_cluster_config
from martlet.hashing import hash_path
from ops.dev_cluster import DEVICES, DevSpec, create_cluster
from ops.dev_processes import DevCluster, martlet_argv
from ring import Ring, load_ring

USER, KEY = "test:tester", "testing"
PROXY_OPTIONS = {
    "node_timeout": "3",
    "conn_timeout": "0.5",
    "error_suppression_limit": "100000",
    "ring_check_interval": "0.2",
    "recheck_container_existence": "0",
}
# Intervals do not matter with --once; timeouts short, audits unthrottled.
DAEMON_KEYS = {
    "node": {"daemons": "storage"},
    "replicator": {"concurrency": "4", "conn_timeout": "0.5", "node_timeout": "5"},
    "db-replicator": {"conn_timeout": "0.5", "node_timeout": "5"},
    "auditor": {"files_per_second": "0", "bytes_per_second": "0"},
    "updater": {"conn_timeout": "0.5", "node_timeout": "5"},
}


def add_daemon_sections(conf_path: Path) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(conf_path)
    for section, keys in DAEMON_KEYS.items():
        if not parser.has_section(section):
            parser.add_section(section)
        for key, value in keys.items():
            parser.set(section, key, value)
    with open(conf_path, "w", encoding="utf-8") as handle:
        parser.write(handle)


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass
class ProbeCluster:
    spec: DevSpec
    processes: DevCluster

    # -- processes -----------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        return [f"storage{i + 1}" for i in range(len(self.spec.storage_ports))]

    def stop_node(self, index: int) -> None:
        self.processes.stop([f"storage{index + 1}"])

    def kill_node(self, index: int) -> None:
        self.processes.kill(f"storage{index + 1}")

    def start_node(self, index: int) -> None:
        name = f"storage{index + 1}"
        self.processes.start([name])
        self.processes.wait_ready(30, [name])

    def close(self) -> None:
        self.processes.stop()

    def run_daemon(self, command: str, index: int, *extra: str) -> subprocess.CompletedProcess[str]:
        """``martlet <command> --config storage<N>.conf --once`` to completion."""
        argv = martlet_argv(command, "--config", str(self.spec.storage_conf(index)), "--once", *extra)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
        with open(self.processes.log_dir / f"{command}{index + 1}.log", "a", encoding="utf-8") as log:
            log.write(done.stderr)
        assert done.returncode == 0, f"{command} on node {index + 1} failed: {done.stderr[-3000:]}"
        return done

    def run_everywhere(self, command: str, nodes: list[int] | None = None) -> list[subprocess.CompletedProcess[str]]:
        """One ``--once`` pass of ``command`` on every node, in parallel."""
        chosen = list(range(len(self.spec.storage_ports))) if nodes is None else nodes
        with ThreadPoolExecutor(len(chosen)) as pool:
            return list(pool.map(lambda i: self.run_daemon(command, i), chosen))

    def replicate(self, rounds: int = 1, nodes: list[int] | None = None) -> None:
        for _ in range(rounds):
            self.run_everywhere("replicator", nodes)

    # -- API -----------------------------------------------------------------

    def connection(self) -> swift_client.Connection:
        return swift_client.Connection(authurl=self.spec.auth_url, user=USER, key=KEY, retries=0, timeout=30)

    def direct(self, method: str, device: str, target: str, **kwargs: Any) -> requests.Response:
        """One request straight to ``device``'s storage daemon, signed as the
        cluster's daemons sign theirs; ``target`` is the raw path and query."""
        key = backend_key(load_cluster_config(self.spec.cluster_conf))
        headers = {**kwargs.pop("headers", {}), SIGNATURE_HEADER: key.sign(method, target, time.time())}
        port = self.spec.storage_ports[self.node_index(device)]
        return requests.request(method, f"http://127.0.0.1:{port}{target}", headers=headers, timeout=10, **kwargs)

    # -- the ring and the disk ----------------------------------------------

    def ring(self, kind: str = "object") -> Ring:
        cluster = load_cluster_config(self.spec.cluster_conf)
        return load_ring(cluster.ring_path(kind), cluster.hash)

    def account(self) -> str:
        return "AUTH_test"

    def device_path(self, device: str) -> Path:
        index = int(device.lstrip("d")) - 1
        return self.spec.devices_root(index) / device

    def node_index(self, device: str) -> int:
        return int(device.lstrip("d")) - 1

    def object_hash(self, container: str, obj: str) -> str:
        cluster = load_cluster_config(self.spec.cluster_conf)
        return hash_path(self.account(), container, obj, settings=cluster.hash)

    def primaries(self, container: str, obj: str) -> tuple[int, list[str]]:
        part, nodes = self.ring().get_nodes(self.account(), container, obj)
        return part, [n.device for n in nodes]

    def all_devices(self) -> list[str]:
        return [d.device for d in self.ring().devices if d is not None]

    def hash_dirs(self, container: str, obj: str) -> dict[str, list[str]]:
        """device -> file names of the object's hash dir, wherever it is
        (any partition directory, primary or handoff)."""
        hash_ = self.object_hash(container, obj)
        found: dict[str, list[str]] = {}
        for device in self.all_devices():
            objects = self.device_path(device) / "objects"
            if not objects.is_dir():
                continue
            for part in os.listdir(objects):
                hash_dir = objects / part / hash_[-3:] / hash_
                if hash_dir.is_dir():
                    names = sorted(os.listdir(hash_dir))
                    if names:
                        found.setdefault(device, []).extend(names)
        return found

    def data_path(self, device: str, container: str, obj: str) -> Path:
        part, _ = self.primaries(container, obj)
        hash_ = self.object_hash(container, obj)
        hash_dir = self.device_path(device) / "objects" / str(part) / hash_[-3:] / hash_
        (data,) = [n for n in os.listdir(hash_dir) if n.endswith(".data")]
        return hash_dir / data


def start_probe_cluster(data_dir: Path, **spec_options: Any) -> ProbeCluster:
    """Create a cluster (like ``martlet dev``'s first run) and start its
    storage daemons and proxy only."""
    spec = DevSpec.ephemeral(data_dir, fsync=False, part_power=6, proxy_options=dict(PROXY_OPTIONS), **spec_options)
    create_cluster(spec)
    for i in range(len(spec.storage_ports)):
        add_daemon_sections(spec.storage_conf(i))
    processes = DevCluster(spec)
    names = [f"storage{i + 1}" for i in range(len(spec.storage_ports))] + ["proxy"]
    try:
        processes.start(names)
        processes.wait_ready(timeout=30)
    except BaseException:
        processes.stop()
        raise
    return ProbeCluster(spec, processes)


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


__all__ = ["DEVICES", "ProbeCluster", "md5_hex", "start_probe_cluster", "wait_for"]
