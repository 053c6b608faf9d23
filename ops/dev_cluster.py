"""The data dir of a dev cluster (``martlet dev``): what it holds and which
ports it uses.

A data dir stands for a whole cluster on 127.0.0.1: ``martlet.conf``, the
three rings over 4 devices in 4 zones with 3 replicas, ``proxy.conf`` and
one ``storage<N>.conf`` per device, each standing for one storage node with
its device under ``node<N>/``. ``create_cluster`` writes it once, through
``ops.init_cluster`` (the same set-up as ``martlet ring-init``); after that
the files are the operator's: nothing here rewrites them, so an added user
or a changed key survives a restart.

Ports are fixed when the data dir is created, because the rings name the
storage nodes by port: the proxy on ``--port`` P and the storage nodes on
P+10, P+20, P+30, P+40, so two dev clusters with their own ``--data-dir``
and ``--port`` run side by side. Later runs read the ports back from the
role configs (``load_spec``). Tests pick free ports instead
(``DevSpec.ephemeral``).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from martlet.cluster import load_cluster_config
from martlet.config import load_config
from martlet.errors import ConfigError, UsageError

from ops.init_cluster import ClusterLayout, StorageNode, init_cluster

DEVICES = 4
REPLICAS = 3
PART_POWER = 10
DEFAULT_PORT = 8080
PORT_STEP = 10  # storage node N listens on the proxy's port + N * PORT_STEP
# The node's background daemons `martlet dev` runs, each under a section of
# its storage.conf named as its command, with intervals short enough that a
# change made while a dev node was stopped is repaired within seconds.
BACKGROUND: dict[str, dict[str, str]] = {
    "updater": {"interval": "5"},
    "replicator": {"interval": "10", "concurrency": "2"},
    "db-replicator": {"interval": "10", "concurrency": "2"},
    "auditor": {"interval": "30"},
    "expirer": {"interval": "10"},
}


# Keys of every dev node's [storage] section beyond the ring's. Two threads
# per device, not the daemon's four: a dev cluster's four nodes share one
# disk and the machine's cores, and there the extra threads only add GIL
# hand-offs (A/B on 2 cores, 4 KiB at c=32: 6-10% less server CPU per PUT
# and DELETE with 2, 1 MiB PUT cheaper too; 1 thread was no better).
DEV_STORAGE: dict[str, str] = {"threads_per_device": "2"}


def node_dir(index: int) -> str:
    """The folder of storage node ``index`` (0-based) in the data dir: its
    devices root."""
    return f"node{index + 1}"


class DevSpec(ClusterLayout):
    """A dev cluster: the cluster layout of its data dir (``directory``),
    one storage node per device on 127.0.0.1, each in its own zone with its
    device under ``node<N>/``. Built by the class methods below."""

    @classmethod
    def of(cls, data_dir: Path, proxy_port: int, storage_ports: tuple[int, ...], *, fsync: bool = True,
           part_power: int = PART_POWER, proxy_options: Mapping[str, str] | None = None) -> DevSpec:
        nodes = tuple(StorageNode("127.0.0.1", port, (f"d{i + 1}",), zone=i + 1, devices_root=node_dir(i))
                      for i, port in enumerate(storage_ports))
        return cls(data_dir, nodes, proxy_ip="127.0.0.1", proxy_port=proxy_port, part_power=part_power,
                   replicas=REPLICAS, min_part_hours=1, fsync=fsync, proxy_options=dict(proxy_options or {}),
                   node_sections={"storage": DEV_STORAGE, **BACKGROUND})

    @classmethod
    def on_port(cls, data_dir: Path, proxy_port: int = DEFAULT_PORT) -> DevSpec:
        """A new cluster's ports, derived from the proxy's (see module docstring)."""
        storage_ports = tuple(proxy_port + PORT_STEP * (i + 1) for i in range(DEVICES))
        if proxy_port < 1 or storage_ports[-1] > 65535:
            raise UsageError(f"--port {proxy_port}: the proxy takes PORT and the storage nodes "
                             f"PORT+{PORT_STEP}..PORT+{PORT_STEP * DEVICES}, so PORT must be "
                             f"1 to {65535 - PORT_STEP * DEVICES}")
        return cls.of(data_dir, proxy_port, storage_ports)

    @classmethod
    def ephemeral(cls, data_dir: Path, *, fsync: bool = True, part_power: int = PART_POWER,
                  proxy_options: Mapping[str, str] | None = None) -> DevSpec:
        """Free ports picked by binding port 0 (then released) for every daemon."""
        ports = free_ports(DEVICES + 1)
        return cls.of(data_dir, ports[0], tuple(ports[1:]), fsync=fsync, part_power=part_power,
                      proxy_options=proxy_options)

    @property
    def data_dir(self) -> Path:
        return self.directory

    @property
    def storage_ports(self) -> tuple[int, ...]:
        return tuple(node.port for node in self.nodes)

    def devices_root(self, index: int) -> Path:
        """Each storage daemon stands for one node with one device (a node
        a test adds beyond ``nodes`` included)."""
        return self.directory / node_dir(index)

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}/auth/v1.0"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def port_in_use(port: int) -> bool:
    """Whether a daemon could not listen on ``127.0.0.1:port`` now. With
    SO_REUSEADDR, as the daemons bind, so that a port a stopped cluster left
    in TIME_WAIT counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def create_cluster(spec: DevSpec) -> bool:
    """Create the data dir on first run; False (and nothing touched) when
    it already holds a cluster."""
    if spec.cluster_conf.exists():
        return False
    for i, node in enumerate(spec.nodes):
        for device in node.devices:
            (spec.devices_root(i) / device).mkdir(parents=True, exist_ok=True)
    # Role configs, rings, builders, then martlet.conf last: its presence
    # marks a complete data dir.
    init_cluster(spec)
    return True


def _bind_port(path: Path, section: str) -> int:
    text = load_config(path).value(section, "bind_port")
    if text is None or not text.strip().isdigit():
        raise ConfigError(f"{path}: [{section}] bind_port: expected a port number, got {text!r}")
    return int(text)


def load_spec(data_dir: Path) -> DevSpec:
    """The spec of a data dir made by an earlier run, its ports read from
    its role configs. A missing or unreadable config is a ConfigError of
    one line that names the file."""
    spec = DevSpec.of(data_dir, DEFAULT_PORT, ())
    try:
        load_cluster_config(spec.cluster_conf)
        proxy_port = _bind_port(spec.proxy_conf, "proxy")
        storage_ports = tuple(_bind_port(spec.storage_conf(i), "storage") for i in range(DEVICES))
    except ConfigError as exc:
        raise ConfigError(f"{exc} (restore it, or start a new cluster with another --data-dir)") from None
    return DevSpec.of(data_dir, proxy_port, storage_ports)
