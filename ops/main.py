"""The ``martlet`` command: the one module that knows every subcommand.

Each component owns its subcommands in its ``cli`` module, which exposes
``register(subparsers)``; a subcommand stores its runner as ``func`` and the
runner returns the exit code. This module is the composition root that lists
them, so it lives outside the kernel (``martlet/`` imports no component) and
is the only module of ``ops/`` that imports ``storage``, ``proxy``,
``replicator`` and ``expirer``. Bad input is one line on stderr and exit code 2, never a
traceback.

The console script ``martlet`` runs ``main``; ``python -m ops.main`` is the
same command where no script is installed (the dev launcher and the tests
start daemons that way).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import expirer.cli
import proxy.cli
import replicator.cli
import ring.cli
import storage.cli
from martlet.errors import ConfigError, MartletError, RingError, UsageError
from martlet.logs import flush_logs

import ops.cli

# The modules that register subcommands, in the order `martlet --help` lists them.
COMMAND_MODULES = (ring.cli, storage.cli, replicator.cli, expirer.cli, proxy.cli, ops.cli)
# What `martlet node` runs in one process, by command name.
NODE_DAEMONS = {**storage.cli.NODE_DAEMONS, **replicator.cli.NODE_DAEMONS, **expirer.cli.NODE_DAEMONS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="martlet", description="The martlet object storage cluster.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    ops.cli.register_node(subparsers, NODE_DAEMONS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ConfigError, RingError, MartletError) as exc:
        flush_logs()  # the lines logged so far come before the reason
        print(f"martlet {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
