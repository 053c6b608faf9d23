"""Two ``martlet dev`` clusters on one machine: each derives its storage
nodes' ports from its ``--port``, runs 5 processes (one ``martlet node``
per storage node and the proxy), and keeps its data to itself."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from swiftclient import client as swift_client

from ops.dev_cluster import DEVICES, PORT_STEP, port_in_use
from tests.cluster.test_node import children_of
from tests.cluster.test_proxy_dev import start_dev, stop_dev

pytestmark = pytest.mark.cluster


def ephemeral_low() -> int:
    """The first port the kernel hands out to outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_base(taken: set[int]) -> int:
    """A --port whose proxy and storage ports are all free, and below the
    ephemeral range: a port in it may be taken as the source port of a
    connection to itself while its daemon is not yet listening (the
    connection then "answers" with the request it sent)."""
    top = min(ephemeral_low(), 65536) - PORT_STEP * DEVICES - 1
    for _ in range(200):
        base = random.randrange(10000, max(top, 10001))
        ports = {base + PORT_STEP * i for i in range(DEVICES + 1)}
        if not ports & taken and not any(port_in_use(p) for p in ports):
            return base
    raise AssertionError("no free port range")


def test_two_dev_clusters_side_by_side(tmp_path: Path) -> None:
    first = free_base(set())
    second = free_base({first + PORT_STEP * i for i in range(DEVICES + 1)})
    a, _ = start_dev(tmp_path / "a", first)
    try:
        b, _ = start_dev(tmp_path / "b", second)
        try:
            for process in (a, b):
                commands = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in children_of(process.pid)]
                roles = sorted(c[3].decode() for c in commands if len(c) > 3)
                assert roles == ["node", "node", "node", "node", "proxy"], roles
            conns = [swift_client.Connection(authurl=f"http://127.0.0.1:{port}/auth/v1.0", user="test:tester",
                                             key="testing", retries=0) for port in (first, second)]
            conns[0].put_container("only-in-a")
            conns[0].put_object("only-in-a", "o", b"a")
            assert [c["name"] for c in conns[1].get_account()[1]] == []
            assert conns[0].get_object("only-in-a", "o")[1] == b"a"
        finally:
            stop_dev(b)
    finally:
        stop_dev(a)
