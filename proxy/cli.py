"""``martlet proxy --config proxy.conf``: run the proxy."""

from __future__ import annotations

import argparse

from martlet.logs import setup_logging
from martlet.serve import run_app


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("proxy", help="run the proxy (the public Swift API)")
    parser.add_argument("--config", default="/etc/martlet/proxy.conf", help="proxy.conf")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from proxy.app import create_app
    from proxy.config import load_proxy_config

    config = load_proxy_config(args.config)
    setup_logging(config.proxy.log_level, name="proxy")
    settings = config.proxy
    run_app(lambda: create_app(config), settings.bind_ip, settings.bind_port, settings.workers,
            limits=settings.client_limits())
    return 0
