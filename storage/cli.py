"""``martlet storage --config storage.conf``: run the storage daemon.

The daemon's modules are imported when the command runs: every ``martlet``
command builds the whole parser, and need not load the storage daemon.
"""

from __future__ import annotations

import argparse
from typing import Any

from martlet.logs import setup_logging
from martlet.serve import run_app


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "storage", help="run the storage daemon (objects, containers, accounts)"
    )
    parser.add_argument("--config", required=True, help="path to storage.conf")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storage.config import load_storage_config
    from storage.server import create_app

    config = load_storage_config(args.config)
    section = config.storage
    setup_logging(section.log_level, name="storage")
    run_app(lambda: create_app(config), section.bind_ip, section.bind_port, section.workers,
            limits=section.client_limits())
    return 0
