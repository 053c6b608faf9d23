"""``martlet node --config storage.conf``: one storage node, one process.

Runs the daemons ``[node] daemons`` names (by default the storage daemon,
replicator, db-replicator, auditor, updater and expirer) under one
``ops.supervisor.Supervisor``, from the same storage.conf the separate
commands read. Signals: SIGTERM and SIGINT stop every daemon (each gets
``stop_timeout`` seconds, then is cancelled) and end the node with 0;
SIGHUP restarts every daemon, which re-reads storage.conf (rings need no
restart: daemons reload a changed ring by themselves).

The daemons themselves come from the components (``storage.cli`` and
``replicator.cli`` ``NODE_DAEMONS``); ``ops.main``, the composition root,
hands them in, so this module imports none of them.

Under the node, one log level applies to every daemon: ``[node]
log_level`` (each section's own ``log_level`` is for its separate
command). Every line names its daemon (``"daemon": "replicator"``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

import uvloop

from martlet.config import load_config
from martlet.errors import ConfigError
from martlet.logs import setup_logging
from martlet.memory import keep_large_buffers
from martlet.serve import NodeDaemon

from ops.supervisor import Policy, Supervisor, daemon_tag

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class NodeSection:
    """``[node]`` of storage.conf: what ``martlet node`` runs and how it
    restarts and stops it."""

    # Daemons to run, by command name; empty: every one the node offers
    # (storage, replicator, db-replicator, auditor, updater, expirer). E.g. only
    # `storage` where the background daemons run elsewhere.
    daemons: tuple[str, ...] = ()
    # Seconds before a failed daemon starts again, doubled per consecutive
    # failure up to max_backoff.
    backoff: float = field(default=1.0, metadata={"min": 0.0})
    max_backoff: float = field(default=60.0, metadata={"min": 0.0})
    # Seconds each daemon gets to finish on stop before it is cancelled.
    stop_timeout: float = field(default=10.0, metadata={"min": 0.0})
    log_level: str = field(default="INFO", metadata={"choices": ("DEBUG", "INFO", "WARNING", "ERROR")})

    def policy(self) -> Policy:
        return Policy(self.backoff, self.max_backoff, self.stop_timeout)


def chosen_daemons(config_path: str, section: NodeSection, available: Mapping[str, NodeDaemon]) -> dict[str, NodeDaemon]:
    """The daemons ``[node] daemons`` names, in that order (all when empty);
    one nobody offers is a ConfigError of one line."""
    names = section.daemons or tuple(available)
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ConfigError(f"{config_path}: [node] daemons: {', '.join(unknown)} unknown; "
                          f"expected some of {', '.join(available)}")
    return {name: available[name] for name in names}


async def supervise(config_path: str, daemons: Mapping[str, NodeDaemon], policy: Policy) -> Supervisor:
    """Run the node until SIGTERM/SIGINT; the supervisor, for its report."""
    supervisor = Supervisor(config_path, daemons, policy)
    running = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(sig, supervisor.request_stop)
    running.add_signal_handler(signal.SIGHUP, supervisor.request_restart)
    if await supervisor.start():
        await supervisor.run()
    return supervisor


def run_node(config_path: str, available: Mapping[str, NodeDaemon]) -> int:
    """The command: a missing or unreadable config, a bad ``[node]`` key, or
    a daemon that cannot start (its port in use) is one line, exit 2."""
    section = load_config(config_path).section("node", NodeSection)
    daemons = chosen_daemons(config_path, section, available)
    setup_logging(section.log_level, name="node")
    keep_large_buffers()
    for handler in logging.getLogger().handlers:
        handler.addFilter(daemon_tag())
    supervisor = uvloop.run(supervise(config_path, daemons, section.policy()))
    left = supervisor.alive
    if left:
        # A daemon stuck in a blocking call: its threads would hold the
        # interpreter's exit, so leave without waiting for them.
        log.error("exiting with daemons still running", extra={"daemons": left})
        logging.shutdown()
        sys.stdout.flush()
        os._exit(1)
    log.info("node stopped")
    return 0
