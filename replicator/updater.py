"""The updater: replays ``async_pending/`` until each row update lands.

Object servers queue container-row updates, container servers queue
account-row updates (``storage.async_pending`` defines the record). Each
pass walks ``async_pending/`` on every device (and ``async_pending-N/`` of
every storage policy found there) and sends every record that is due,
``concurrency`` at a time.

What counts as delivered (``classify``): a 2xx, or an answer that proves the
update can no longer matter - a 404 or 409 whose ``X-Backend-Delete-
Timestamp`` (or ``X-Backend-Timestamp`` for 409) is at least the record's
own timestamp, i.e. the target database was deleted (or replaced) after the
update was made. Anything else - connection errors, timeouts, 5xx, 507, a
plain 404 from a node that simply has not got the database yet - is retried
later: an update is only dropped once it is known to be applied or moot.

Backoff is per record, kept in memory: after ``n`` failures a record waits
``min(max_backoff, backoff * 2**(n-1))`` seconds (with 10% jitter) before
its next try, so a long outage does not mean hammering the node every pass.
Within a pass a host that refused a connection is not tried again, so a
dead node costs one connect timeout, not one per record. State is lost on
restart, which only means one early retry. ``--once`` tries every record.

Counters: each pass's figures are logged and written to the updater's
stats file (``replicator.stats.write_stats``, the format the replicators
and the auditor use: ``[updater] stats_file``, by default
``<devices>/updater.json``), which the storage daemon's ``/recon`` and
``/metrics`` and ``martlet status`` read; ``UpdaterMetrics`` keeps the
process's cumulative totals (``Updater.metrics.snapshot()``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path

from martlet.backend import BackendTimeouts
from martlet.backend_client import WholeAnswerClient
from martlet.backend_auth import BackendKey
from martlet.errors import BadRequest
from martlet.timestamp import Timestamp
from replicator.daemon import repeat_passes
from replicator.stats import write_stats
from storage.async_pending import PendingUpdate, iter_pending, remove_pending, send_record
from storage.layout import stats_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdaterSection:
    """``[updater]`` of storage.conf."""

    interval: float = field(default=30.0, metadata={"min": 0.0})  # seconds between passes
    concurrency: int = field(default=8, metadata={"min": 1})  # updates in flight
    conn_timeout: float = field(default=0.5, metadata={"min": 0.001})
    node_timeout: float = field(default=10.0, metadata={"min": 0.001})
    backoff: float = field(default=2.0, metadata={"min": 0.0})  # first retry delay, seconds
    max_backoff: float = field(default=600.0, metadata={"min": 0.0})
    # Where each pass's figures go as JSON; empty: <devices>/updater.json.
    stats_file: str = ""
    log_level: str = field(
        default="INFO", metadata={"choices": ("DEBUG", "INFO", "WARNING", "ERROR")}
    )


class Outcome(Enum):
    SUCCESS = "success"
    SUPERSEDED = "superseded"
    FAILURE = "failure"


def _header_timestamp(headers: Mapping[str, str], name: str) -> Timestamp | None:
    value = headers.get(name)
    if not value:
        return None
    try:
        return Timestamp.parse(value)
    except BadRequest:
        return None


def record_timestamp(record: PendingUpdate) -> Timestamp:
    """The newest timestamp an update carries (account updates have several)."""
    stamps = [
        _header_timestamp(record.headers, name)
        for name in ("X-Timestamp", "X-Put-Timestamp", "X-Delete-Timestamp", "X-Content-Type-Timestamp")
    ]
    return max((s for s in stamps if s is not None), default=Timestamp(0))


def classify(status: int, headers: Mapping[str, str], record: PendingUpdate) -> Outcome:
    """Pure: is the update delivered, moot, or still to be retried?"""
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if status in (404, 409):
        names = ["X-Backend-Delete-Timestamp"]
        if status == 409:
            names.append("X-Backend-Timestamp")
        newest = max(
            (t for t in (_header_timestamp(headers, n) for n in names) if t is not None),
            default=None,
        )
        if newest is not None and newest >= record_timestamp(record):
            return Outcome.SUPERSEDED
    return Outcome.FAILURE


def backoff_delay(attempts: int, base: float, cap: float, jitter: float = 0.1) -> float:
    """Seconds to wait after ``attempts`` failures (pure, save the jitter)."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * (1 + random.uniform(-jitter, jitter))


@dataclass
class _Counts:
    """What happened to the updates of a pass (or of all passes so far)."""

    sent: int = 0
    succeeded: int = 0
    superseded: int = 0
    failed: int = 0
    deferred: int = 0  # not due yet (backoff) or host down this pass

    def counts(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(_Counts)}


@dataclass
class UpdaterMetrics(_Counts):
    """Cumulative counters of one updater process."""

    passes: int = 0
    last_pass_seconds: float = 0.0

    def add(self, stats: _Counts, seconds: float) -> None:
        self.passes += 1
        for name, value in stats.counts().items():
            setattr(self, name, getattr(self, name) + value)
        self.last_pass_seconds = round(seconds, 6)

    def snapshot(self) -> dict[str, float]:
        return dict(asdict(self))


@dataclass
class _Retry:
    attempts: int
    next_try: float  # time.monotonic()


@dataclass
class _Pass(_Counts):
    """One pass's counters and the hosts found down during it."""

    dead_hosts: set[str] = field(default_factory=set)
    seconds: float = 0.0

    def figures(self) -> dict[str, float]:
        """What the stats file holds (``replicator.stats.PassFigures``)."""
        return {**self.counts(), "seconds": self.seconds}


class Updater:
    name = "updater"  # the daemon's name in its stats file and in /recon

    def __init__(self, devices_root: Path, section: UpdaterSection, key: BackendKey, fsync: bool = True) -> None:
        self.devices_root = devices_root
        self.key = key  # signs the updates it sends (martlet.backend_auth)
        self.section = section
        self.fsync = fsync
        self.metrics = UpdaterMetrics()
        self._retries: dict[Path, _Retry] = {}
        self.stats_file = stats_file(devices_root, self.name, section.stats_file)

    def _devices(self) -> list[Path]:
        try:
            names = sorted(os.listdir(self.devices_root))
        except FileNotFoundError:
            log.warning("devices root missing", extra={"devices": str(self.devices_root)})
            return []
        return [self.devices_root / n for n in names if (self.devices_root / n).is_dir()]

    async def run_pass(self, client: WholeAnswerClient, once: bool = False) -> _Pass:
        """Walk every device's async_pending once; ``once`` ignores backoff."""
        started = time.monotonic()
        stats = _Pass()
        seen: set[Path] = set()
        gate = asyncio.Semaphore(self.section.concurrency)
        for device_path in self._devices():
            # iter_pending is a generator: the directory walk runs in the thread.
            records = await asyncio.to_thread(list, iter_pending(device_path))
            tasks = []
            for path, record in records:
                seen.add(path)
                retry = self._retries.get(path)
                if not once and retry is not None and retry.next_try > time.monotonic():
                    stats.deferred += 1
                    continue
                tasks.append(self._deliver(client, gate, path, record, stats))
            await asyncio.gather(*tasks)
        # Forget backoff state of records that are gone (delivered elsewhere).
        self._retries = {p: r for p, r in self._retries.items() if p in seen}
        await self._account(stats, time.monotonic() - started)
        return stats

    async def _deliver(
        self,
        client: WholeAnswerClient,
        gate: asyncio.Semaphore,
        path: Path,
        record: PendingUpdate,
        stats: _Pass,
    ) -> None:
        async with gate:
            if record.host in stats.dead_hosts:
                stats.deferred += 1
                return
            stats.sent += 1
            outcome = await self._send(client, record, stats)
        if outcome is Outcome.FAILURE:
            stats.failed += 1
            attempts = self._retries.get(path, _Retry(0, 0.0)).attempts + 1
            delay = backoff_delay(attempts, self.section.backoff, self.section.max_backoff)
            self._retries[path] = _Retry(attempts, time.monotonic() + delay)
            return
        if outcome is Outcome.SUCCESS:
            stats.succeeded += 1
        else:
            stats.superseded += 1
        self._retries.pop(path, None)
        await asyncio.to_thread(remove_pending, path, self.fsync)

    async def _send(
        self, client: WholeAnswerClient, record: PendingUpdate, stats: _Pass
    ) -> Outcome:
        try:
            status, headers = await send_record(client, record)
        except OSError as exc:  # ConnectionError, TimeoutError
            if not isinstance(exc, TimeoutError):
                stats.dead_hosts.add(record.host)
            log.info("update not sent", extra={"host": record.host, "path": record.path, "error": repr(exc)})
            return Outcome.FAILURE
        outcome = classify(status, headers, record)
        if outcome is Outcome.FAILURE:
            log.info("update refused", extra={"host": record.host, "path": record.path, "status": status})
        return outcome

    async def _account(self, stats: _Pass, seconds: float) -> None:
        self.metrics.add(stats, seconds)
        stats.seconds = self.metrics.last_pass_seconds
        log.info("updater pass", extra=stats.figures())
        await asyncio.to_thread(write_stats, self.stats_file, self.name, stats)

    def make_client(self) -> WholeAnswerClient:
        return WholeAnswerClient(
            self.key,
            BackendTimeouts(self.section.conn_timeout, self.section.node_timeout),
            per_host=self.section.concurrency,
        )

    async def run(self, once: bool = False, stop: asyncio.Event | None = None) -> None:
        """One pass (``once``) or passes every ``interval`` until ``stop`` is set."""
        async with self.make_client() as client:
            await repeat_passes(lambda: self.run_pass(client, once=once), self.section.interval, once,
                                stop or asyncio.Event(), log, "updater pass")
