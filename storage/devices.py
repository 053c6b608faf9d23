"""Devices under the devices root, and one thread pool per device.

Every blocking file operation of the daemon (objects and SQLite alike) goes
through ``DeviceIO.run(device, fn, *args)``: a slow or hung disk then only
stalls its own threads, never the event loop nor the other devices. The
caller's ``contextvars`` are copied into the worker thread, so log lines
written there keep the request's transaction id.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from martlet.errors import DeviceUnavailable
from storage.layout import DeviceLayout, policy_of_dir
from storage.paths import check_device

P = ParamSpec("P")
R = TypeVar("R")

# Seconds a device found present is taken as present without a new check.
CHECK_FRESH = 1.0
# Only directories that exist are remembered; this bounds them all the same.
MAX_REMEMBERED_DEVICES = 1024
# Seconds a device thread waits for work before it runs its pool's
# ``on_idle`` (closing the SQLite connections it keeps).
IDLE_SECONDS = 30.0


def device_dir(devices_root: Path, device: str) -> Path:
    """The directory of ``device``: a direct child of the root, never outside."""
    return devices_root / check_device(device)


def policy_dirs(device_path: Path, base: str) -> list[tuple[int, Path]]:
    """Blocking: the ``base`` directories of every storage policy present
    on a device (``objects``, ``objects-1``...), as ``(policy, path)`` in
    policy order. Walkers that need no ring (auditor, updater, recon) take
    whatever is on disk, a policy no longer declared included."""
    try:
        names = os.listdir(device_path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = [(policy_of_dir(name, base), device_path / name) for name in names]
    return sorted((index, path) for index, path in found if index is not None and path.is_dir())


def check_device_dir(devices_root: Path, device: str) -> Path:
    """Blocking: the device's directory, or DeviceUnavailable (507)."""
    path = device_dir(devices_root, device)
    if not os.path.isdir(path):
        raise DeviceUnavailable(f"device {device} unavailable")
    return path


class DevicePool:
    """A device's worker threads: a plain queue and futures of the caller's
    loop, set from the worker with ``call_soon_threadsafe``.

    ``loop.run_in_executor`` costs about twice as much CPU per hop (a
    ``concurrent.futures.Future`` with its lock and condition, chained to
    an asyncio future by callbacks), and every small request makes a few
    hops. Same contract: the caller's ``contextvars`` go with the call, a
    cancelled caller does not stop work already queued, and ``shutdown``
    lets queued work finish.
    """

    def __init__(self, threads: int, name: str, on_idle: Callable[[], None] | None = None) -> None:
        # Run by a thread given no work for IDLE_SECONDS, and by each thread
        # as it ends: what it holds for the next job (kept connections)
        # goes, so a quiet or failed device keeps no files open.
        self._on_idle = on_idle
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # Taken by submit and shutdown: a job queued behind the threads'
        # stop markers would never run, and its caller would wait forever.
        self._lock = threading.Lock()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True) for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], R]) -> asyncio.Future[R]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        with self._lock:
            if self._closed:
                raise DeviceUnavailable("daemon is shutting down")
            self._queue.put((loop, future, contextvars.copy_context(), fn))
        return future

    def shutdown(self) -> None:
        """Refuse new work, let the queued work finish, then stop every thread."""
        with self._lock:
            self._closed = True
            for _ in self._threads:
                self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                self._idle()
                continue
            if job is None:
                break
            loop, future, context, fn = job
            try:
                result = context.run(fn)
            except BaseException as exc:  # handed to the caller, as an executor would
                _settle(loop, future, _set_exception, exc)
            else:
                _settle(loop, future, _set_result, result)
            del job, future, fn  # drop references before blocking on the queue again
        self._idle()

    def _idle(self) -> None:
        if self._on_idle is not None:
            self._on_idle()


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[[], Any]]


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], how: Callable[..., None],
            value: object) -> None:
    try:
        loop.call_soon_threadsafe(how, future, value)
    except RuntimeError:
        pass  # the loop is closed: nobody waits any more


def _set_result(future: asyncio.Future[Any], result: object) -> None:
    if not future.done():  # the caller may have been cancelled
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class DeviceIO:
    """Thread pools keyed by device name, created on first use.

    A pool is made only after the device was found to exist (the check runs
    in a small shared pool), so requests naming made-up devices cannot make
    the daemon grow threads without bound.
    """

    def __init__(self, devices_root: Path, threads_per_device: int = 4,
                 on_idle: Callable[[], None] | None = None) -> None:
        self.devices_root = devices_root
        self.threads_per_device = threads_per_device
        self._on_idle = on_idle  # each pool's (``DevicePool``)
        self._pools: dict[str, DevicePool] = {}
        self._lock = threading.Lock()
        self._checker = ThreadPoolExecutor(max_workers=2, thread_name_prefix="devcheck")
        self._checked: dict[str, float] = {}  # device -> when last found present
        self._closed = False

    def _pool(self, device: str) -> DevicePool:
        pool = self._pools.get(device)
        if pool is not None and not self._closed:
            return pool
        with self._lock:
            if self._closed:
                raise DeviceUnavailable("daemon is shutting down")
            pool = self._pools.get(device)
            if pool is None:
                pool = DevicePool(self.threads_per_device, f"dev-{device}", self._on_idle)
                self._pools[device] = pool
            return pool

    async def check(self, device: str) -> Path:
        """The device's directory, or DeviceUnavailable (507); never blocks the loop.

        A device found present is taken as present for ``CHECK_FRESH``
        seconds: the check is a thread hop, and doing it once a second
        instead of once a request changes only how soon a device that went
        away is answered 507 rather than failing its first disk operation.
        """
        check_device(device)
        now = time.monotonic()
        if now - self._checked.get(device, -CHECK_FRESH) < CHECK_FRESH:
            return DeviceLayout.of(self.devices_root, device).path
        loop = asyncio.get_running_loop()
        call = functools.partial(check_device_dir, self.devices_root, device)
        try:
            path = await loop.run_in_executor(self._checker, contextvars.copy_context().run, call)
        except DeviceUnavailable:
            self._checked.pop(device, None)
            raise
        if len(self._checked) < MAX_REMEMBERED_DEVICES:
            self._checked[device] = now
        return path

    async def run(self, device: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` in ``device``'s pool with the caller's context."""
        return await self._pool(device).submit(functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Stop accepting work and wait for running operations to finish."""
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
        for pool in pools:
            pool.shutdown()
        self._checker.shutdown(wait=True)
