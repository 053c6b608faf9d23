"""``martlet replicator``, ``martlet db-replicator`` and ``martlet auditor``.

Each reads one storage.conf (``[storage]`` plus its own section, see
``replicator.config``), runs one pass with ``--once`` or passes every
``interval`` until SIGINT/SIGTERM. With ``--once`` on a terminal a progress
line is shown while the pass runs; the pass's figures are logged and written
to the daemon's stats file either way. ``node_daemon`` offers the same
daemons to ``martlet node``, which runs them beside the storage daemon.

A daemon's module is imported by its runner, when its command runs: every
``martlet`` command builds the whole parser, and need not load them all.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import uvloop

from martlet.errors import UsageError
from martlet.logs import setup_logging
from martlet.serve import DaemonMain, NodeDaemon, SupervisorReport
from replicator.config import AuditorSection, DbReplicatorSection, ReplicatorSection, load_daemon_config
from storage.config import StorageConfig


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _partitions(text: str | None) -> tuple[int, ...]:
    parts = _names(text)
    if not all(p.isdigit() for p in parts):
        raise UsageError("--partitions takes comma-separated partition numbers")
    return tuple(int(p) for p in parts)


def register_daemons(subparsers: Any) -> None:
    rep = subparsers.add_parser("replicator", help="replicate objects between their primaries and hand off partitions")
    _common(rep)
    rep.add_argument("--partitions", help="only these partitions (comma-separated)")
    rep.set_defaults(func=run_replicator)

    db = subparsers.add_parser(
        "db-replicator", help="replicate container and account databases between their primaries"
    )
    _common(db)
    db.set_defaults(func=run_db_replicator)

    aud = subparsers.add_parser("auditor", help="re-read objects at a rate limit and quarantine corrupt ones")
    aud.add_argument("--config", required=True, help="path to storage.conf")
    aud.add_argument("--once", action="store_true", help="run one pass and exit")
    aud.add_argument("--devices", help="only these devices (comma-separated)")
    aud.set_defaults(func=run_auditor)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="path to storage.conf")
    parser.add_argument("--once", action="store_true", help="run one pass and exit")
    parser.add_argument("--devices", help="only these devices (comma-separated)")


def serve_until_signal(main: Callable[[asyncio.Event], Awaitable[object]]) -> None:
    """Run ``main(stop)`` on uvloop; SIGINT/SIGTERM set ``stop``."""

    async def wrapper() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    uvloop.run(wrapper())


class _Section(Protocol):
    @property
    def log_level(self) -> str: ...


S = TypeVar("S", bound=_Section)


class _Daemon(Protocol):
    def run(self, once: bool = False, stop: asyncio.Event | None = None) -> Awaitable[object]: ...


def _run_daemon(
    args: argparse.Namespace, section_name: str, section_cls: type[S], build: Callable[[StorageConfig, S], _Daemon]
) -> int:
    """Load ``[storage]`` and ``[<section_name>]``, set up logs, run
    ``build(storage, section)``'s passes until a signal (or once)."""
    storage, section = load_daemon_config(args.config, section_name, section_cls)
    setup_logging(section.log_level, name=section_name)
    daemon = build(storage, section)
    serve_until_signal(lambda stop: daemon.run(once=args.once, stop=stop))
    return 0


def node_daemon(section_name: str, section_cls: type[S], build: Callable[[StorageConfig, S], _Daemon]) -> NodeDaemon:
    """The daemon as ``martlet node`` runs it: passes every ``interval``
    over all the node's devices, no progress line, until the node stops it."""

    def prepare(config_path: str, _report: SupervisorReport) -> DaemonMain:
        storage, section = load_daemon_config(config_path, section_name, section_cls)
        daemon = build(storage, section)
        return lambda stop: daemon.run(once=False, stop=stop)

    return prepare


def run_replicator(args: argparse.Namespace) -> int:
    from replicator.object_replicator import ObjectReplicator

    devices, partitions = _names(args.devices), _partitions(args.partitions)
    return _run_daemon(
        args, "replicator", ReplicatorSection,
        lambda storage, section: ObjectReplicator(storage, section, devices, partitions, show_progress=args.once),
    )


def run_db_replicator(args: argparse.Namespace) -> int:
    from replicator.db_replicator import DbReplicator

    return _run_daemon(
        args, "db-replicator", DbReplicatorSection,
        lambda storage, section: DbReplicator(storage, section, _names(args.devices), show_progress=args.once),
    )


def run_auditor(args: argparse.Namespace) -> int:
    from replicator.auditor import Auditor

    return _run_daemon(
        args, "auditor", AuditorSection,
        lambda storage, section: Auditor(storage, section, _names(args.devices), show_progress=args.once),
    )


def _object_replicator(storage: StorageConfig, section: ReplicatorSection) -> _Daemon:
    from replicator.object_replicator import ObjectReplicator

    return ObjectReplicator(storage, section, (), (), show_progress=False)


def _db_replicator(storage: StorageConfig, section: DbReplicatorSection) -> _Daemon:
    from replicator.db_replicator import DbReplicator

    return DbReplicator(storage, section, (), show_progress=False)


def _auditor(storage: StorageConfig, section: AuditorSection) -> _Daemon:
    from replicator.auditor import Auditor

    return Auditor(storage, section, (), show_progress=False)


# The pass daemons by command name, for ``martlet node`` (replicator.cli adds the updater).
NODE_DAEMONS: dict[str, NodeDaemon] = {
    "replicator": node_daemon("replicator", ReplicatorSection, _object_replicator),
    "db-replicator": node_daemon("db-replicator", DbReplicatorSection, _db_replicator),
    "auditor": node_daemon("auditor", AuditorSection, _auditor),
}
