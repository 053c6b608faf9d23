"""``martlet dev``: a whole cluster on this machine, with no set-up.

On first run it creates ``<data-dir>`` (default ``./.dev-cluster``, see
``ops.dev_cluster``), with the proxy on ``--port`` (default 8080) and the
storage nodes on the next ports (+10 to +40); later runs reuse it as the
operator left it. Then it starts one ``martlet node`` per storage node (its
storage daemon and background daemons) and the proxy
(``ops.dev_processes``), prints how to use the cluster, and on Ctrl-C
(SIGINT, SIGTERM, SIGHUP) stops every process it started.

A port already in use, or a data dir missing a config, stops it before any
process starts, with one line that names the port or file and what to do.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from martlet.errors import UsageError

from ops.dev_cluster import DEFAULT_PORT, DevSpec, create_cluster, load_spec, port_in_use
from ops.dev_processes import DevCluster


def banner(spec: DevSpec, created: bool) -> str:
    swift = Path(sys.executable).with_name("swift")
    auth = f"-A {spec.auth_url} -U test:tester -K testing"
    state = "created" if created else "reused"
    return "\n".join([
        f"martlet dev cluster ({state} {spec.data_dir})",
        f"  auth URL : {spec.auth_url}",
        "  user     : test:tester   key: testing   (more users in proxy.conf [auth])",
        f"  S3       : endpoint {spec.auth_url.rsplit('/auth', 1)[0]}   access key: test:tester   "
        "secret: testing   region: us-east-1 (path-style)",
        f"  try      : {swift} {auth} stat",
        f"             {swift} {auth} upload photos README.md",
        f"             {swift} {auth} list photos",
        f"  logs     : {spec.data_dir / 'logs'}",
        "Press Ctrl-C to stop every process.",
    ])


def check_ports(spec: DevSpec, created: bool) -> None:
    """UsageError naming the first port another process holds, and the flag
    that moves it."""
    if port_in_use(spec.proxy_port):
        raise UsageError(f"port {spec.proxy_port} (proxy) is in use: choose another with --port")
    for i, port in enumerate(spec.storage_ports):
        if not port_in_use(port):
            continue
        if created:
            raise UsageError(f"port {port} (storage{i + 1}, --port + {port - spec.proxy_port}) is in use: "
                             "choose another --port")
        raise UsageError(f"port {port} (storage{i + 1}, fixed in {spec.storage_conf(i)}) is in use: "
                         "stop what holds it, or run another cluster with another --data-dir and --port")


def prepare(data_dir: Path, port: int | None) -> tuple[DevSpec, bool]:
    """The cluster to run and whether it is new: the data dir created on
    first run, read back later. Checked before anything is written."""
    if not (data_dir / "martlet.conf").exists():
        spec = DevSpec.on_port(data_dir, DEFAULT_PORT if port is None else port)
        check_ports(spec, created=True)
        create_cluster(spec)
        return spec, True
    spec = load_spec(data_dir)
    if port is not None:
        spec = replace(spec, proxy_port=port)
    check_ports(spec, created=False)
    return spec, False


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run(data_dir: Path, port: int | None) -> int:
    spec, created = prepare(data_dir.resolve(), port)
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
                    print(f"martlet dev: {cluster.exit_message(name)}", file=sys.stderr, flush=True)
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
