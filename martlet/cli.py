"""The ``martlet`` command.

Each component owns its subcommands in a ``cli`` module exposing
``register(subparsers)``; the subcommand stores its runner as ``func`` and
the runner returns the exit code. Bad input is a one-line message on stderr
and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from martlet.errors import ConfigError, MartletError, RingError

# Modules that register subcommands, in the order `martlet --help` lists them.
COMMAND_MODULES: tuple[str, ...] = ("ring.cli", "storage.cli", "replicator.cli", "proxy.cli", "martlet.dev", "ops.cli")


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="martlet", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ConfigError, RingError, MartletError) as exc:
        print(f"martlet {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
