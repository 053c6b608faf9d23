"""``martlet expirer --config storage.conf [--once]``: delete objects past
their ``X-Delete-At``; and the expirer as ``martlet node`` runs it.

Reads ``[storage]`` (devices, bind address, cluster_conf) and ``[expirer]``
(``expirer.config``) of the same file, once. ``--once`` runs one pass and
exits 0; without it, a pass every ``interval`` until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
from typing import Any

from expirer.config import ExpirerSection
from martlet.logs import setup_logging
from martlet.serve import NodeDaemon
from replicator.config import load_daemon_config
from replicator.daemon_cli import node_daemon, serve_until_signal
from storage.config import StorageConfig


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("expirer", help="delete objects past their X-Delete-At")
    parser.add_argument("--config", required=True, help="path to storage.conf")
    parser.add_argument("--once", action="store_true", help="run one pass and exit")
    parser.set_defaults(func=run_expirer)


def _build(storage: StorageConfig, section: ExpirerSection) -> Any:
    from expirer.daemon import Expirer  # loaded only to run

    return Expirer(storage, section)


def run_expirer(args: argparse.Namespace) -> int:
    storage, section = load_daemon_config(args.config, "expirer", ExpirerSection)
    setup_logging(section.log_level, name="expirer")
    expirer = _build(storage, section)
    serve_until_signal(lambda stop: expirer.run(once=args.once, stop=stop))
    return 0


NODE_DAEMONS: dict[str, NodeDaemon] = {"expirer": node_daemon("expirer", ExpirerSection, _build)}
