"""Pass figures of the background daemons: counted, logged, written as JSON,
and shown as a progress line when a ``--once`` run has a terminal.

One ``PassStats`` per pass; the daemon logs it when the pass ends and writes
it (with the time it ended) to its stats file, atomically, so an operator or
a monitoring agent can read the last pass's figures at any time.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

log = logging.getLogger(__name__)


@dataclass
class PassStats:
    """Counters of one pass (mutable: the pass adds to it as it goes)."""

    partitions_total: int = 0  # known when the walk of the devices ends
    partitions_checked: int = 0
    suffixes_synced: int = 0
    objects_pushed: int = 0
    handoffs_reverted: int = 0
    failures: int = 0
    # database replication
    databases_checked: int = 0
    rows_pushed: int = 0
    rows_reclaimed: int = 0  # deleted rows older than reclaim_age removed
    databases_reclaimed: int = 0  # deleted databases older than reclaim_age removed
    # auditor
    files_checked: int = 0
    bytes_checked: int = 0
    quarantined: int = 0
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0

    def finish(self) -> None:
        self.seconds = round(time.monotonic() - self.started, 6)

    def figures(self) -> dict[str, float]:
        data = asdict(self)
        data.pop("started")
        return data


class PassFigures(Protocol):
    """What a stats file is written from: a pass's counters and ``seconds``
    (``PassStats``, or the updater's own counters)."""

    def figures(self) -> Mapping[str, float]: ...


def write_stats(path: Path, name: str, stats: PassFigures) -> None:
    """Blocking: replace the stats file with this pass's figures."""
    payload = {"daemon": name, "finished_at": round(time.time(), 3), **stats.figures()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write stats", extra={"path": str(path), "error": exc.strerror})


class Progress:
    """A one-line progress display, only when the output is a terminal."""

    def __init__(self, name: str, enabled: bool, stream: TextIO = sys.stderr, every: float = 0.5) -> None:
        self.name = name
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self.every = every
        self._last = 0.0

    def show(self, stats: PassStats, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        self.stream.write("\r" + progress_line(self.name, stats) + "\x1b[K")
        self.stream.flush()

    def done(self, stats: PassStats) -> None:
        if self.enabled:
            self.show(stats, force=True)
            self.stream.write("\n")
            self.stream.flush()


def progress_line(name: str, stats: PassStats) -> str:
    """Pure: the text of the progress display."""
    elapsed = time.monotonic() - stats.started
    if name == "auditor":
        body = f"{stats.files_checked} files, {stats.bytes_checked} bytes, {stats.quarantined} quarantined"
    elif name == "db-replicator":
        body = (
            f"{stats.databases_checked} databases, {stats.rows_pushed} rows pushed, "
            f"{stats.rows_reclaimed} rows reclaimed"
        )
    else:
        total = stats.partitions_total or "?"
        body = (
            f"{stats.partitions_checked}/{total} partitions, {stats.suffixes_synced} suffixes, "
            f"{stats.objects_pushed} pushed, {stats.handoffs_reverted} handoffs reverted"
        )
    return f"{name}: {body}, {stats.failures} failures, {elapsed:.1f}s"
