"""Shared fixtures that start real storage daemons on 127.0.0.1, port 0.

Reusable by every cluster test:

* ``make_storage_config(devices_root, policies, **storage_keys)`` - a
  StorageConfig over a temporary devices root, with the test hash
  prefix/suffix (and storage policies: by default policy 0 alone).
* ``StorageDaemon`` / the ``storage_daemon`` fixture - an in-process daemon
  (``create_app`` + AppRunner + TCPSite on port 0); ``.url(path)``,
  ``.device_path(dev)``, ``.host`` (``ip:port`` for X-Container-Host).
* ``start_storage_daemon(...)`` - the same, for tests that need several
  daemons or non-default settings (stop them with ``await daemon.stop()``).
* ``StorageProcess`` / ``spawn_storage_process(tmp_path)`` - the real
  ``martlet storage`` command as a subprocess; its port is read from the
  "serving" log line, with a bounded wait.
* ``backend`` - a pooled ``aiohttp.ClientSession`` (martlet.backend.make_session)
  signing with ``TEST_KEY``, the backend key of every daemon started here;
  ``signed(method, target)`` the signature header for requests sent otherwise
  (``requests``, raw sockets).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from martlet.backend import make_session
from martlet.backend_auth import SIGNATURE_HEADER, BackendKey
from martlet.cluster import ClusterConfig
from martlet.hashing import HashSection
from martlet.policies import StoragePolicies
from martlet.serve import runner_options
from ops.dev_processes import martlet_argv
from storage.config import StorageConfig, StorageSection
from storage.server import create_app

TEST_HASH = HashSection(path_prefix="pre", path_suffix="test-suffix")
TEST_SECRET = "s"
TEST_KEY = BackendKey.from_secret(TEST_SECRET)


def json_log_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a daemon's log (other lines, such as a crash's, skipped)."""
    return json_lines(path.read_text(errors="replace"))


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON lines of a log's text (other lines skipped)."""
    lines = []
    for raw in text.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def signed(method: str, target: str, key: BackendKey = TEST_KEY) -> dict[str, str]:
    """The signature header of a request sent without a backend session;
    ``target`` is the raw path (and query) exactly as it goes on the wire."""
    return {SIGNATURE_HEADER: key.sign(method, target, time.time())}
DEVICES = ("sda", "sdb")


def make_devices(root: Path, names: tuple[str, ...] = DEVICES) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / name).mkdir(exist_ok=True)
    return root


def make_storage_config(devices_root: Path, policies: StoragePolicies = StoragePolicies(),
                        **storage_keys: Any) -> StorageConfig:
    cluster = ClusterConfig(path="<test>", hash=TEST_HASH, ring_dir=devices_root, secret=TEST_SECRET,
                            policies=policies)
    section = StorageSection(devices=str(devices_root), **{"bind_port": 0, **storage_keys})
    return StorageConfig(storage=section, cluster=cluster, path="<test>")


@dataclass
class StorageDaemon:
    """A storage daemon served by this test's event loop."""

    config: StorageConfig
    runner: web.AppRunner
    port: int
    ip: str = "127.0.0.1"

    @property
    def host(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def devices_root(self) -> Path:
        return self.config.devices_root

    def device_path(self, device: str) -> Path:
        return self.devices_root / device

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_storage_daemon(devices_root: Path, policies: StoragePolicies = StoragePolicies(),
                               **storage_keys: Any) -> StorageDaemon:
    config = make_storage_config(devices_root, policies, **storage_keys)
    runner = web.AppRunner(create_app(config), **runner_options(shutdown_timeout=2.0))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server  # aiohttp exposes the bound port only through the server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    return StorageDaemon(config, runner, port)


@pytest.fixture
async def storage_daemon(tmp_path: Path) -> AsyncIterator[StorageDaemon]:
    daemon = await start_storage_daemon(make_devices(tmp_path / "node"))
    try:
        yield daemon
    finally:
        await daemon.stop()


@pytest.fixture
async def backend() -> AsyncIterator[aiohttp.ClientSession]:
    session = make_session(TEST_KEY)
    try:
        yield session
    finally:
        await session.close()


def unused_port_address() -> str:
    """``127.0.0.1:<port>`` where nothing listens (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class StorageProcess:
    """A ``martlet storage`` subprocess; ``stop()`` ends it by its pid."""

    process: subprocess.Popen[bytes]
    port: int
    devices_root: Path
    stderr_path: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def log_lines(self) -> list[dict[str, Any]]:
        return json_log_lines(self.stderr_path)

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode


def write_storage_conf(tmp_path: Path, devices_root: Path, extra: str = "") -> Path:
    cluster = tmp_path / "martlet.conf"
    cluster.write_text(
        f"[hash]\npath_prefix = {TEST_HASH.path_prefix}\npath_suffix = {TEST_HASH.path_suffix}\n"
        f"[cluster]\nsecret = {TEST_SECRET}\n"
    )
    conf = tmp_path / "storage.conf"
    conf.write_text(
        "[storage]\n"
        f"devices = {devices_root}\n"
        "bind_ip = 127.0.0.1\nbind_port = 0\nworkers = 1\n"
        "cluster_conf = martlet.conf\n" + extra
    )
    return conf


def spawn_storage_process(tmp_path: Path, extra_conf: str = "", wait: float = 20.0) -> StorageProcess:
    """Start ``martlet storage`` and wait (bounded) for its "serving" line."""
    devices_root = make_devices(tmp_path / "node")
    conf = write_storage_conf(tmp_path, devices_root, extra_conf)
    stderr_path = tmp_path / "storage.stderr"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARTLET_")}
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            martlet_argv("storage", "--config", str(conf)),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
        )
    handle = StorageProcess(process, 0, devices_root, stderr_path)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for line in handle.log_lines():
            if line.get("msg") == "serving":
                handle.port = int(line["address"][1])
                return handle
        if process.poll() is not None:
            raise RuntimeError(f"martlet storage exited: {stderr_path.read_text()}")
        time.sleep(0.05)
    handle.stop()
    raise RuntimeError(f"martlet storage did not start within {wait}s: {stderr_path.read_text()}")
