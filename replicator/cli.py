"""``martlet updater --config storage.conf [--once]``: replay async_pending;
and the pass daemons' commands (``replicator.daemon_cli``).

Reads ``[storage] devices`` (and ``cluster_conf``, ``fsync``) and the
``[updater]`` section of the same file.
"""

from __future__ import annotations

import argparse
from typing import Any

from martlet.backend_auth import backend_key
from martlet.logs import setup_logging
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
