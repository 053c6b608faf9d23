"""The proxy's rings, kept current by a background task.

A request only ever reads the ``Ring`` in hand; it never stats a file or
loads a ring on its way. A task started with the app checks the ring files
every ``ring_check_interval`` seconds and swaps in any that changed
(``ring.RingReloader``). Stat and load run in a worker thread, because
inflating a large ring would otherwise stall every request on the event
loop for as long. Waiting between checks is a wait on the stop event with
that interval as its bound, so closing the app ends the task at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

from martlet.errors import ServiceUnavailable
from martlet.hashing import HashSection
from ring import Ring, RingReloader

log = logging.getLogger(__name__)

# An interval of 0 would make the task spin; a ring file is never pushed
# that often, so checks are at least this far apart.
MIN_CHECK_INTERVAL = 0.1
# How long ``close`` waits for a check that is loading a ring to finish.
CLOSE_TIMEOUT = 10.0


class RingWatcher:
    """One ``RingReloader`` per ring kind, loaded by ``start`` and checked
    in the background until ``close``."""

    def __init__(self, paths: Mapping[str, Path], hash_settings: HashSection, check_interval: float) -> None:
        self.paths = dict(paths)
        self.hash_settings = hash_settings
        self.check_interval = max(check_interval, MIN_CHECK_INTERVAL)
        self._reloaders: dict[str, RingReloader] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def ring(self, kind: str) -> Ring:
        """The ring of ``kind`` in hand; 503 before ``start`` or after ``close``."""
        reloader = self._reloaders.get(kind)
        if reloader is None:
            raise ServiceUnavailable(f"{kind} ring not loaded")
        return reloader.ring

    async def start(self) -> None:
        """Load every ring (RingError if one cannot be) and start watching."""
        for kind, path in self.paths.items():
            self._reloaders[kind] = await asyncio.to_thread(RingReloader, path, self.hash_settings)
        self._stop.clear()
        self._task = asyncio.create_task(self._watch(), name="ring-watcher")

    async def close(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(task, CLOSE_TIMEOUT)
            except TimeoutError:
                log.warning("ring watcher did not stop in time")
        self._reloaders.clear()

    async def check(self) -> list[str]:
        """Reload the rings whose files changed; the kinds that were."""
        changed = []
        for kind, reloader in list(self._reloaders.items()):
            if await asyncio.to_thread(reloader.reload_if_changed):
                changed.append(kind)
        return changed

    async def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), self.check_interval)
                return
            except TimeoutError:
                pass
            try:
                await self.check()
            except Exception:  # never let one bad check end the watching
                log.exception("ring check failed")
