"""Operator commands: ``ring-init``, ``status``, ``healthcheck``, ``dev`` and ``node``.

``ring-init`` is the first-run set-up of a cluster folder (``ops.init_cluster``),
the same code ``martlet dev`` runs; the compose file's one-shot ``ring-init``
service calls it on every ``up`` and it creates only what is missing.
``status`` prints the rings and every storage node's health (``ops.status``).
``healthcheck`` asks one proxy or node whether it is healthy (``ops.health``).
``dev`` runs a whole cluster on this machine (``ops.dev``). ``node`` runs a
storage node's daemons in one process (``ops.node``); the daemons come from
the components, so ``ops.main`` registers it with ``register_node``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from martlet.errors import UsageError
from ops.init_cluster import DEFAULT_POLICIES
from martlet.serve import NodeDaemon


def register(subparsers: Any) -> None:
    init = subparsers.add_parser(
        "ring-init",
        help="create a cluster folder: rings, martlet.conf (random suffix and secret), role configs",
        description="Creates in --dir whatever is missing: storage<N>.conf per storage node and "
        "proxy.conf, the account/container builders and rings, an object builder and ring per "
        "storage policy, and martlet.conf (written last, on first run only). Existing files are kept.",
    )
    init.add_argument("--dir", required=True, help="the cluster folder (ring_dir and configs)")
    init.add_argument("--device", action="append", required=True, metavar="SPEC",
                      help="a device, r<region>z<zone>-<ip>:<port>/<device>; repeat for each "
                      "(devices with the same ip:port are one storage node)")
    init.add_argument("--devices-root", default="/srv/node",
                      help="[storage] devices written to each storage<N>.conf (default /srv/node)")
    init.add_argument("--weight", type=float, default=100.0, help="weight of every device (default 100)")
    init.add_argument("--proxy", default="127.0.0.1:8080", metavar="IP:PORT",
                      help="where the proxy listens, written to proxy.conf (default 127.0.0.1:8080)")
    init.add_argument("--part-power", type=int, default=10, help="2^part_power partitions (default 10)")
    init.add_argument("--replicas", type=int, default=3, help="replicas (default 3)")
    init.add_argument("--min-part-hours", type=int, default=1, help="(default 1)")
    init.add_argument("--no-fsync", action="store_true", help="fsync = false in storage configs (tests only)")
    init.add_argument("--policies", default=",".join(DEFAULT_POLICIES), metavar="NAME,NAME...",
                      help="storage policies of a new cluster, by index, the first the default; each gets "
                      f"an object ring (default {','.join(DEFAULT_POLICIES)})")
    init.add_argument("--env-file", metavar="PATH",
                      help="keep the cluster's secrets (hash suffix, cluster secret, user keys) in this .env: "
                      "created when missing, new configs take their secrets from it, users get random keys")
    init.set_defaults(func=run_ring_init)

    status = subparsers.add_parser(
        "status", help="report the rings and each storage node's health",
        description="Exit code 0 when every storage node answers and every device is mounted, 1 otherwise.",
    )
    status.add_argument("--config", default="/etc/martlet/martlet.conf", help="martlet.conf of the cluster")
    status.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for each node")
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    status.set_defaults(func=run_status)

    dev = subparsers.add_parser(
        "dev", help="run a whole cluster on this machine",
        description="The first run creates --data-dir (rings, configs, users); later runs reuse "
        "it as left, configs included. Ctrl-C stops every process.",
    )
    dev.add_argument("--data-dir", default=".dev-cluster", help="where configs, rings and data live")
    dev.add_argument("--port", type=int, default=None,
                     help="the proxy's port; on first run (default 8080) the storage nodes take "
                     "PORT+10 to PORT+40 for good; later runs default to the port in proxy.conf")
    dev.set_defaults(func=run_dev)

    health = subparsers.add_parser(
        "healthcheck", help="exit 0 when the proxy or storage node a config describes is healthy",
        description="Asks the proxy (proxy.conf) for /healthcheck, or the storage node (storage.conf) "
        "for /recon, where `martlet node` reports each of its daemons: healthy when every one runs. "
        "Prints one line per daemon; for container health checks.",
    )
    health.add_argument("--config", required=True, help="proxy.conf or storage.conf")
    health.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the answer")
    health.set_defaults(func=run_healthcheck)


def register_node(subparsers: Any, daemons: dict[str, NodeDaemon]) -> None:
    """``martlet node``, running the daemons the components offer."""
    node = subparsers.add_parser(
        "node", help="run a storage node: its storage daemon and background daemons in one process",
        description="Runs the daemons [node] daemons names (default: " + ", ".join(daemons) + ") "
        "from one storage.conf, restarts one that fails (with backoff) and reports each on /recon. "
        "SIGTERM/SIGINT stop them all; SIGHUP restarts them all, re-reading the config.",
    )
    node.add_argument("--config", required=True, help="path to storage.conf")
    node.set_defaults(func=lambda args: run_node(args, daemons))


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"expected IP:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def run_ring_init(args: argparse.Namespace) -> int:
    from ops.init_cluster import ClusterLayout, init_cluster, nodes_from_specs

    try:
        nodes = nodes_from_specs(args.device, args.devices_root, args.weight)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    proxy_ip, proxy_port = _host_port(args.proxy)
    policies = tuple(name.strip() for name in args.policies.split(",") if name.strip())
    layout = ClusterLayout(
        Path(args.dir), nodes, proxy_ip=proxy_ip, proxy_port=proxy_port, part_power=args.part_power,
        replicas=args.replicas, min_part_hours=args.min_part_hours, fsync=not args.no_fsync,
        policies=policies,
    )
    cluster_sections = None
    if args.env_file:
        from ops.cluster_env import apply_env_file

        layout, cluster_sections, settled = apply_env_file(layout, Path(args.env_file))
        for name in settled.conflicts:
            print(f"ring-init: {args.env_file}: {name} differs from the cluster's configs, which are kept",
                  file=sys.stderr, flush=True)
        if settled.additions:
            print(f"ring-init {args.env_file}: added {', '.join(settled.additions)}", flush=True)
    report = init_cluster(layout, cluster_sections)
    print(f"ring-init {layout.directory}: created {', '.join(report.created) or 'nothing'}; "
          f"kept {', '.join(report.kept) or 'nothing'}", flush=True)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from martlet.cluster import load_cluster_config
    from ops.status import gather, render, to_json

    status = gather(load_cluster_config(args.config), timeout=args.timeout)
    if args.json:
        json.dump(to_json(status), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(status))
    return 0 if status.healthy else 1


def run_dev(args: argparse.Namespace) -> int:
    from ops.dev import run

    return run(Path(args.data_dir), args.port)


def run_healthcheck(args: argparse.Namespace) -> int:
    from ops.health import check

    healthy, lines = check(args.config, args.timeout)
    print("\n".join(lines), flush=True)
    return 0 if healthy else 1


def run_node(args: argparse.Namespace, daemons: dict[str, NodeDaemon]) -> int:
    from ops.node import run_node as run

    return run(args.config, daemons)
