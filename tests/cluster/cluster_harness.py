"""A whole martlet cluster for tests, started by the same code as
``martlet dev`` (``ops.dev_cluster``, ``ops.dev_processes``) in a temporary folder on ephemeral ports.

Real processes: four storage daemons, the proxy and the background daemons
that exist. ``start_cluster`` returns once every HTTP daemon answers its
healthcheck (bounded wait); ``RunningCluster.close`` stops them all.
``cluster_fixture`` makes the module-scoped fixture most cluster test
modules share; ``Api`` (raw HTTP as a user), ``wait_for`` and
``node_down_with_queued_updates`` are their common helpers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from swiftclient import client as swift_client

from ops.dev_cluster import DevSpec, create_cluster
from ops.dev_processes import DevCluster

SWIFT = str(Path(sys.executable).with_name("swift"))
USER, KEY = "test:tester", "testing"


@dataclass
class RunningCluster:
    spec: DevSpec
    processes: DevCluster
    _tokens: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.spec.proxy_port}"

    def auth(self, user: str = USER, key: str = KEY) -> tuple[str, str]:
        """(storage URL, token) of a user, cached per user."""
        if user not in self._tokens:
            answer = requests.get(f"{self.proxy}/auth/v1.0",
                                  headers={"X-Auth-User": user, "X-Auth-Key": key}, timeout=10)
            answer.raise_for_status()
            self._tokens[user] = (answer.headers["X-Storage-Url"], answer.headers["X-Auth-Token"])
        return self._tokens[user]

    def connection(self, user: str = USER, key: str = KEY, **kwargs: Any) -> swift_client.Connection:
        return swift_client.Connection(authurl=self.spec.auth_url, user=user, key=key,
                                       retries=0, timeout=30, **kwargs)

    def swift(self, *args: str, user: str = USER, key: str = KEY, cwd: Path | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The ``swift`` command line as a subprocess, as a user would run it."""
        argv = [SWIFT, "-A", self.spec.auth_url, "-U", user, "-K", key, *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)

    def storage_name(self, port: int) -> str:
        return f"storage{self.spec.storage_ports.index(port) + 1}"

    def stop_storage(self, *names: str) -> None:
        self.processes.stop(list(names))

    def start_storage(self, *names: str) -> None:
        self.processes.start(list(names))
        self.processes.wait_ready(30, list(names))

    def log_text(self, name: str) -> str:
        return (self.processes.log_dir / f"{name}.log").read_text(errors="replace")

    def logged(self, name: str, check: Callable[[str], bool], what: str, timeout: float = 10.0) -> str:
        """``name``'s log once ``check`` holds of it: daemons write INFO
        lines in batches (``martlet.logs.BatchingHandler``), up to half a
        second after the request that logged them."""
        def text_if_checked() -> str | None:
            text = self.log_text(name)
            return text if check(text) else None

        return wait_for(text_if_checked, timeout, what, 0.1)

    def close(self) -> None:
        self.processes.stop()


class Api:
    """Raw HTTP to the proxy as one user; keyword arguments are headers
    (``X_Copy_From`` for ``X-Copy-From``)."""

    def __init__(self, cluster: RunningCluster, user: str = USER, key: str = KEY) -> None:
        self.url, token = cluster.auth(user, key)
        self.headers = {"X-Auth-Token": token}

    def __call__(self, method: str, path: str, data: bytes | str | None = None, **headers: str) -> requests.Response:
        return requests.request(method, f"{self.url}/{path}", data=data,
                                headers={**self.headers, **{k.replace("_", "-"): v for k, v in headers.items()}},
                                timeout=60)


def start_cluster(data_dir: Path, **proxy_options: Any) -> RunningCluster:
    """Create (like ``martlet dev``'s first run) and start a cluster."""
    options = {k: str(v) for k, v in proxy_options.items()}
    spec = DevSpec.ephemeral(data_dir, fsync=False, part_power=6, proxy_options=options)
    create_cluster(spec)
    processes = DevCluster(spec)
    try:
        processes.start()
        processes.wait_ready(timeout=30)
    except BaseException:
        processes.stop()
        raise
    return RunningCluster(spec, processes)


def cluster_fixture(name: str, **proxy_options: Any) -> Any:
    """A module-scoped ``cluster`` fixture: one cluster (started with
    ``proxy_options``) for every test of the module, stopped after them."""

    @pytest.fixture(scope="module")
    def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
        running = start_cluster(tmp_path_factory.mktemp(name), **proxy_options)
        try:
            yield running
        finally:
            running.close()

    return cluster


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy, and return that;
    fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


def container_on(cluster: RunningCluster, device: str) -> str:
    """A container name whose replicas include ``device``, so that object
    writes while it is down must queue updates for it."""
    from martlet.cluster import load_cluster_config
    from ring import load_ring

    config = load_cluster_config(cluster.spec.cluster_conf)
    ring = load_ring(config.ring_path("container"), config.hash)
    for i in range(1000):
        name = f"queued-{i}"
        if device in [d.device for d in ring.get_nodes("AUTH_test", name)[1]]:
            return name
    raise AssertionError(f"no container on {device}")


@contextmanager
def node_down_with_queued_updates(cluster: RunningCluster, index: int, objects: int = 12) -> Iterator[str]:
    """Storage node ``index`` (0-based) stopped after a container with a
    replica on its device was made, and ``objects`` objects written into
    that container: the container rows meant for the node wait in the other
    nodes' async_pending. Yields the container; starts the node again after."""
    name = f"storage{index + 1}"
    conn = cluster.connection()
    container = container_on(cluster, f"d{index + 1}")
    conn.put_container(container)
    cluster.stop_storage(name)
    try:
        for i in range(objects):
            conn.put_object(container, f"o{i}", b"data")
        yield container
    finally:
        cluster.start_storage(name)
