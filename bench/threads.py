"""Running a bench's numbered operations on a fixed number of threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def in_threads(count: int, concurrency: int, one: Callable[[int], None]) -> None:
    """``one(i)`` for i in range(count) over ``concurrency`` threads, each
    taking the next index; the first failure is raised once all stop."""
    indexes = iter(range(count))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(indexes, None)
            if i is None:
                return
            one(i)

    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
