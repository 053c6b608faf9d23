"""``martlet dev`` itself: it starts, prints how to use the cluster, serves
Swift clients, stops every process on Ctrl-C, and reuses its data and its
configs as the operator left them."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from swiftclient import client as swift_client

from ops.dev_cluster import DevSpec, create_cluster, free_ports
from ops.dev_processes import martlet_argv

pytestmark = pytest.mark.cluster


def start_dev(data_dir: Path, port: int | None = None) -> tuple[subprocess.Popen[str], str]:
    flags = [] if port is None else ["--port", str(port)]
    process = subprocess.Popen(
        martlet_argv("dev", "--data-dir", str(data_dir), *flags),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return process, "".join(lines)
    process.kill()
    raise AssertionError("martlet dev did not become ready:\n" + "".join(lines))


def stop_dev(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_martlet_dev_serves_stops_and_reuses(tmp_path: Path) -> None:
    data_dir = tmp_path / "dev"
    # The first run's layout, on ephemeral ports instead of --port 8080 and up.
    spec = DevSpec.ephemeral(data_dir, fsync=False, part_power=6)
    assert create_cluster(spec)
    # --port on a reused data dir moves the proxy for this run only.
    port = free_ports(1)[0]
    process, banner = start_dev(data_dir, port)
    try:
        assert f"http://127.0.0.1:{port}/auth/v1.0" in banner
        assert "test:tester" in banner and "testing" in banner and "swift -A" in banner
        conn = swift_client.Connection(authurl=f"http://127.0.0.1:{port}/auth/v1.0",
                                       user="test:tester", key="testing", retries=0)
        conn.put_container("kept")
        conn.put_object("kept", "note.txt", b"still here")
    finally:
        stop_dev(process)
    assert all(port_closed(p) for p in (port, *spec.storage_ports))

    # An operator's edit to proxy.conf survives the next start, which takes
    # its ports from the data dir's configs.
    text = spec.proxy_conf.read_text()
    spec.proxy_conf.write_text(text.replace("[auth]\n", "[auth]\nuser_test_alice = wonderland\n"))
    process, banner = start_dev(data_dir)
    try:
        assert "reused" in banner and spec.auth_url in banner
        conn = swift_client.Connection(authurl=spec.auth_url, user="test:alice", key="wonderland", retries=0)
        # alice has no role: she may not read the account's objects, but she exists.
        conn.get_auth()
        conn = swift_client.Connection(authurl=spec.auth_url, user="test:tester", key="testing", retries=0)
        assert conn.get_object("kept", "note.txt")[1] == b"still here"
    finally:
        stop_dev(process)
