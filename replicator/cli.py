"""``martlet updater --config storage.conf [--once]``: replay async_pending;
and the pass daemons' commands (``replicator.daemon_cli``).

Reads ``[storage] devices`` (and ``cluster_conf``, ``fsync``) and the
``[updater]`` section of the same file. ``NODE_DAEMONS`` offers all four
daemons to ``martlet node``.
"""

from __future__ import annotations

import argparse
from typing import Any

from martlet.backend_auth import backend_key
from martlet.logs import setup_logging
from martlet.serve import DaemonMain, NodeDaemon, SupervisorReport
from replicator.daemon_cli import NODE_DAEMONS as PASS_DAEMONS
from replicator.daemon_cli import register_daemons, serve_until_signal
from storage.config import load_storage_config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "updater", help="send queued container and account updates (async_pending)"
    )
    parser.add_argument("--config", required=True, help="path to storage.conf")
    parser.add_argument("--once", action="store_true", help="run one pass and exit")
    parser.set_defaults(func=run_updater)
    register_daemons(subparsers)  # replicator, db-replicator, auditor


def run_updater(args: argparse.Namespace) -> int:
    from replicator.updater import Updater, UpdaterSection  # loaded only to run

    storage = load_storage_config(args.config)
    section = storage.section("updater", UpdaterSection)
    setup_logging(section.log_level, name="updater")
    updater = Updater(storage.devices_root, section, backend_key(storage.cluster), fsync=storage.storage.fsync)
    serve_until_signal(lambda stop: updater.run(once=args.once, stop=stop))
    return 0


def node_updater(config_path: str, _report: SupervisorReport) -> DaemonMain:
    """The updater as ``martlet node`` runs it: passes until the node stops it."""
    from replicator.updater import Updater, UpdaterSection

    storage = load_storage_config(config_path)
    updater = Updater(storage.devices_root, storage.section("updater", UpdaterSection), backend_key(storage.cluster),
                      fsync=storage.storage.fsync)
    return lambda stop: updater.run(once=False, stop=stop)


NODE_DAEMONS: dict[str, NodeDaemon] = {**PASS_DAEMONS, "updater": node_updater}
