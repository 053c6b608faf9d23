"""A rate limit shared by threads: the auditor's files and bytes per
second, the expirer's tasks per second."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """At most ``rate`` units per second on average, shared by threads.

    ``wait(n)`` returns at once while the budget allows and otherwise sleeps
    until it does; the clock and sleep are injectable for tests.

    ``burst`` (seconds) lets that much work run ahead of the budget before
    a sleep, which then pays all of it back: the same average rate, in
    fewer and longer sleeps. A thread woken for one small piece of work
    finds its caches cold and spends several times the CPU on it that it
    would back to back (the auditor, at 20 files a second, measured 430 us
    of CPU per file woken for each and 66 us in a run).
    """

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        burst: float = 0.0,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._allowed_at = clock()
        self._lock = threading.Lock()

    def reserve(self, amount: float) -> float:
        """Take ``amount`` from the budget; the seconds to wait before using it."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            start = max(self._allowed_at, now)
            self._allowed_at = start + amount / self.rate
            return start - now

    def wait(self, amount: float) -> None:
        delay = self.reserve(amount)
        if delay > self.burst:
            self.sleep(delay)
