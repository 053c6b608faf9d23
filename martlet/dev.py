"""``martlet dev``: a whole cluster on this machine, with no set-up.

On first run it creates ``<data-dir>`` (default ``./.dev-cluster``) holding
``martlet.conf`` (random hash suffix and secret), the account, container and
object rings over 4 devices in 4 zones with 3 replicas, and one storage
daemon config per device, each on its own port of 127.0.0.1 and standing for
one storage node; later runs reuse it all. Then it starts those daemons, the
proxy and the background daemons that exist (updater, replicator, auditor),
prints how to use the cluster, and on Ctrl-C stops every process it started.

The cluster tests start their clusters with this same code, on ephemeral
ports (``DevSpec.ephemeral``). This module is one of the two places in the
kernel allowed to import components (the ring reader, and `ops.init_cluster`
for the first-run set-up it shares with `martlet ring-init`), lazily.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

DEVICES = 4
REPLICAS = 3
PART_POWER = 10
DEV_USERS = {
    "user_test_tester": "testing .admin",
    "user_test_tester2": "testing2",
    "user_test2_tester2": "testing2 .admin",
    "user_admin_admin": "admin .admin .reseller_admin",
}
# Background daemons started when their subcommand exists, with their config.
BACKGROUND = (
    ("updater", "storage"),
    ("replicator", "storage"),
    ("db-replicator", "storage"),
    ("auditor", "storage"),
)


@dataclass(frozen=True)
class DevSpec:
    """Where a dev cluster lives and which ports it uses."""

    data_dir: Path
    proxy_port: int = 8080
    storage_ports: tuple[int, ...] = tuple(6210 + 10 * i for i in range(DEVICES))
    fsync: bool = True
    part_power: int = PART_POWER
    # Extra [proxy] keys (tests shorten timeouts and caches).
    proxy_options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def ephemeral(cls, data_dir: Path, **kwargs: object) -> DevSpec:
        """Free ports picked by binding port 0 (then released) for every daemon."""
        ports = free_ports(DEVICES + 1)
        # kwargs are other DevSpec fields, passed through from the caller; mypy
        # cannot match ``object`` values against each field's own type.
        return cls(data_dir, proxy_port=ports[0], storage_ports=tuple(ports[1:]), **kwargs)  # type: ignore[arg-type]

    @property
    def cluster_conf(self) -> Path:
        return self.data_dir / "martlet.conf"

    @property
    def proxy_conf(self) -> Path:
        return self.data_dir / "proxy.conf"

    def storage_conf(self, index: int) -> Path:
        return self.data_dir / f"storage{index + 1}.conf"

    def devices_root(self, index: int) -> Path:
        """Each storage daemon stands for one node with one device."""
        return self.data_dir / f"node{index + 1}"

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}/auth/v1.0"


def free_ports(count: int) -> list[int]:
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


def layout_of(spec: DevSpec):  # -> ops.init_cluster.ClusterLayout
    """The dev cluster as a cluster layout: one storage node per device, each
    in its own zone on 127.0.0.1, its devices under ``node<N>/``. The set-up
    itself is ``ops.init_cluster``, shared with ``martlet ring-init`` (the
    compose file's first step), so both paths stay in step."""
    from ops.init_cluster import ClusterLayout, StorageNode

    nodes = tuple(
        StorageNode("127.0.0.1", port, (f"d{i + 1}",), zone=i + 1, devices_root=spec.devices_root(i).name)
        for i, port in enumerate(spec.storage_ports)
    )
    return ClusterLayout(
        spec.data_dir, nodes, proxy_ip="127.0.0.1", proxy_port=spec.proxy_port, part_power=spec.part_power,
        replicas=REPLICAS, min_part_hours=1, fsync=spec.fsync, users=DEV_USERS,
        proxy_options=spec.proxy_options,
    )


def write_role_configs(spec: DevSpec) -> None:
    """proxy.conf and storage<N>.conf; rewritten each run (ports may change)."""
    from ops.init_cluster import write_role_configs as write_configs

    for i in range(len(spec.storage_ports)):
        (spec.devices_root(i) / f"d{i + 1}").mkdir(parents=True, exist_ok=True)
    write_configs(layout_of(spec), overwrite=True)
    # Short intervals for the background daemons (replicator.config.DEV_SECTIONS).
    from replicator.config import DEV_SECTIONS, append_missing_sections

    for i in range(len(spec.storage_ports)):
        append_missing_sections(spec.storage_conf(i), DEV_SECTIONS)


def create_cluster(spec: DevSpec) -> bool:
    """Create the data dir on first run; False when it already existed."""
    from ops.init_cluster import init_cluster

    if spec.cluster_conf.exists():
        return False
    spec.data_dir.mkdir(parents=True, exist_ok=True)
    write_role_configs(spec)
    # Rings, builders, then martlet.conf last: its presence marks a complete data dir.
    init_cluster(layout_of(spec))
    return True


def available_commands() -> set[str]:
    """The ``martlet`` subcommands this installation has."""
    from martlet.cli import build_parser

    parser = build_parser()
    for action in parser._actions:  # argparse keeps subparsers here
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def _martlet(*args: str) -> list[str]:
    return [sys.executable, "-m", "martlet.cli", *args]


def process_commands(spec: DevSpec) -> list[tuple[str, list[str]]]:
    """(name, argv) of every process of the cluster, storage daemons first."""
    commands = [
        (f"storage{i + 1}", _martlet("storage", "--config", str(spec.storage_conf(i))))
        for i in range(len(spec.storage_ports))
    ]
    commands.append(("proxy", _martlet("proxy", "--config", str(spec.proxy_conf))))
    present = available_commands()
    for command, role in BACKGROUND:
        if command not in present:
            continue
        for i in range(len(spec.storage_ports)):
            config = spec.storage_conf(i) if role == "storage" else spec.proxy_conf
            commands.append((f"{command}{i + 1}", _martlet(command, "--config", str(config))))
    return commands


class DevCluster:
    """The running processes of a dev cluster."""

    def __init__(self, spec: DevSpec, log_dir: Path | None = None) -> None:
        self.spec = spec
        self.log_dir = log_dir or spec.data_dir / "logs"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, names: list[str] | None = None) -> None:
        """Start every process (or only ``names``) with output in log files."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, argv in process_commands(self.spec):
            if names is not None and name not in names:
                continue
            if name in self.processes and self.processes[name].poll() is None:
                continue
            with open(self.log_dir / f"{name}.log", "ab") as log:
                self.processes[name] = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C reaches us; we stop them in order
                )

    def health_urls(self) -> dict[str, str]:
        urls = {f"storage{i + 1}": f"http://127.0.0.1:{port}/healthcheck"
                for i, port in enumerate(self.spec.storage_ports)}
        urls["proxy"] = f"http://127.0.0.1:{self.spec.proxy_port}/healthcheck"
        return urls

    def wait_ready(self, timeout: float = 30.0, names: list[str] | None = None) -> None:
        """Until every HTTP daemon answers its healthcheck; RuntimeError if one
        exits or the time is up."""
        deadline = time.monotonic() + timeout
        pending = {n: u for n, u in self.health_urls().items() if names is None or n in names}
        while pending:
            for name, url in list(pending.items()):
                process = self.processes.get(name)
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir / name}.log")
                try:
                    with urllib.request.urlopen(url, timeout=1.0) as answer:
                        if answer.status == 200:
                            del pending[name]
                except OSError:
                    pass
            if pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not ready after {timeout}s: {', '.join(sorted(pending))}")
                time.sleep(0.1)

    def stop(self, names: list[str] | None = None, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL what is left."""
        chosen = {n: p for n, p in self.processes.items() if names is None or n in names}
        for process in chosen.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, process in chosen.items():
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            del self.processes[name]

    def kill(self, name: str) -> None:
        """SIGKILL one process (probe-style tests)."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()


def banner(spec: DevSpec, created: bool) -> str:
    swift = Path(sys.executable).with_name("swift")
    auth = f"-A {spec.auth_url} -U test:tester -K testing"
    state = "created" if created else "reused"
    return "\n".join([
        f"martlet dev cluster ({state} {spec.data_dir})",
        f"  auth URL : {spec.auth_url}",
        "  user     : test:tester   key: testing",
        f"  try      : {swift} {auth} stat",
        f"             {swift} {auth} upload photos README.md",
        f"             {swift} {auth} list photos",
        f"  logs     : {spec.data_dir / 'logs'}",
        "Press Ctrl-C to stop every process.",
    ])


def existing_spec(data_dir: Path, proxy_port: int) -> DevSpec:
    """The spec of a data dir made by an earlier run: the storage ports are
    the ones its rings name (the rings are the truth, not the defaults)."""
    from martlet.cluster import load_cluster_config
    from ring import load_ring

    cluster = load_cluster_config(data_dir / "martlet.conf")
    ring = load_ring(cluster.ring_path("object"), cluster.hash)
    ports = tuple(d.port for d in sorted((d for d in ring.devices if d is not None), key=lambda d: d.id))
    fsync = "fsync = false" not in (data_dir / "storage1.conf").read_text()
    return DevSpec(data_dir, proxy_port=proxy_port, storage_ports=ports, fsync=fsync,
                   part_power=ring.part_power)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    spec = DevSpec(data_dir, proxy_port=args.port)
    created = create_cluster(spec)
    if not created:
        spec = existing_spec(data_dir, args.port)
        write_role_configs(spec)
    cluster = DevCluster(spec)
    # SIGINT too: a launcher started in the background of a script inherits
    # SIGINT ignored, and Python then never raises KeyboardInterrupt for it.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    try:
        cluster.start()
        cluster.wait_ready()
        print(banner(spec, created), flush=True)
        while True:
            for name, process in cluster.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; see {cluster.log_dir / name}.log",
                          file=sys.stderr, flush=True)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"martlet dev: {exc}", file=sys.stderr)
        return 1
    finally:
        # No second interrupt may cut the shutdown short and orphan a daemon.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        print("stopping every process...", file=sys.stderr, flush=True)
        cluster.stop()
        print("stopped.", file=sys.stderr, flush=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dev", help="run a whole cluster on this machine")
    parser.add_argument("--data-dir", default=".dev-cluster", help="where configs, rings and data live")
    parser.add_argument("--port", type=int, default=8080, help="the proxy's port")
    parser.set_defaults(func=run)
