"""``martlet storage --config storage.conf``: run the storage daemon; and
the same daemon for ``martlet node`` (``NODE_DAEMONS``).

The daemon's modules are imported when the command runs: every ``martlet``
command builds the whole parser, and need not load the storage daemon.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from martlet.backend_auth import backend_key
from martlet.errors import UsageError
from martlet.logs import setup_logging
from martlet.serve import DaemonMain, NodeDaemon, SupervisorReport, bind_socket, run_app, serve_until


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "storage", help="run the storage daemon (objects, containers, accounts)"
    )
    parser.add_argument("--config", required=True, help="path to storage.conf")
    parser.set_defaults(func=run)


def _port_hint(exc: UsageError, config_path: str) -> UsageError:
    return UsageError(f"{exc}: change [storage] bind_ip/bind_port in {config_path} "
                      "(or MARTLET_STORAGE_BIND_PORT), or stop what holds it")


def run(args: argparse.Namespace) -> int:
    from storage.config import load_storage_config
    from storage.server import create_app

    config = load_storage_config(args.config)
    section = config.storage
    setup_logging(section.log_level, name="storage")
    backend_key(config.cluster)  # no secret: ConfigError here, not in each forked worker
    try:
        run_app(lambda: create_app(config), section.bind_ip, section.bind_port, section.workers,
                limits=section.client_limits())
    except UsageError as exc:  # the port: run_app binds before it serves
        raise _port_hint(exc, args.config) from None
    return 0


def node_storage(config_path: str, node_report: SupervisorReport) -> DaemonMain:
    """The storage daemon under ``martlet node``: one worker on the node's
    thread, its /recon carrying the node's report of every daemon."""
    from storage.config import load_storage_config
    from storage.server import create_app

    config = load_storage_config(config_path)
    section = config.storage
    if section.workers > 1:
        logging.getLogger(__name__).warning(
            "[storage] workers is for martlet storage; under martlet node the daemon runs one",
            extra={"workers": section.workers})
    try:
        sock = bind_socket(section.bind_ip, section.bind_port, reuse_port=False)
    except UsageError as exc:
        raise _port_hint(exc, config_path) from None
    app = create_app(config, node_report=node_report)
    return lambda stop: serve_until(app, sock, stop, limits=section.client_limits())


NODE_DAEMONS: dict[str, NodeDaemon] = {"storage": node_storage}
