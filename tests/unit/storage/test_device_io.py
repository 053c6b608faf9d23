"""DeviceIO's per-device worker threads: the contract run_in_executor had
(context carried, errors raised to the caller, a cancelled caller leaves
the work to finish, close waits for queued work), on real threads."""

import asyncio
import contextvars
import threading
from pathlib import Path

import pytest

from martlet.errors import DeviceUnavailable
from storage.devices import DeviceIO, DevicePool

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


async def test_runs_off_the_loop_with_the_callers_context(tmp_path: Path) -> None:
    io = DeviceIO(tmp_path, threads_per_device=2)
    request_id.set("tx1")
    try:
        name, seen = await io.run("sda", lambda: (threading.current_thread().name, request_id.get()))
        assert seen == "tx1"
        assert name.startswith("dev-sda") and name != threading.current_thread().name
    finally:
        io.close()


async def test_errors_reach_the_caller(tmp_path: Path) -> None:
    io = DeviceIO(tmp_path)
    try:
        with pytest.raises(FileNotFoundError):
            await io.run("sda", open, tmp_path / "missing")
        assert await io.run("sda", sum, [1, 2, 3]) == 6  # the thread survives
    finally:
        io.close()


async def test_cancelled_caller_leaves_the_work_to_finish_and_close_waits(tmp_path: Path) -> None:
    io = DeviceIO(tmp_path, threads_per_device=1)
    release = threading.Event()
    done: list[int] = []

    def slow(n: int) -> int:
        release.wait(10)
        done.append(n)
        return n

    first = asyncio.ensure_future(io.run("sda", slow, 1))
    queued = asyncio.ensure_future(io.run("sda", slow, 2))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await queued == 2
    await asyncio.to_thread(io.close)
    assert done == [1, 2]
    with pytest.raises(DeviceUnavailable):
        await io.run("sda", sum, [1])


async def test_many_concurrent_calls_all_answer(tmp_path: Path) -> None:
    io = DeviceIO(tmp_path, threads_per_device=4)
    try:
        results = await asyncio.gather(*(io.run("sda" if i % 2 else "sdb", pow, i, 2) for i in range(500)))
        assert results == [i * i for i in range(500)]
    finally:
        io.close()


async def test_close_waits_for_running_work(tmp_path: Path) -> None:
    io = DeviceIO(tmp_path, threads_per_device=1)
    started, release = threading.Event(), threading.Event()
    done: list[int] = []

    def slow() -> None:
        started.set()
        release.wait(10)
        done.append(1)

    running = asyncio.ensure_future(io.run("sda", slow))
    assert await asyncio.to_thread(started.wait, 10)
    closer = threading.Thread(target=io.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive() and done == []  # close is still waiting for the job
    release.set()
    await asyncio.to_thread(closer.join, 10)
    assert not closer.is_alive() and done == [1]
    await running


async def test_a_pool_refuses_work_once_shut_down(tmp_path: Path) -> None:
    """A job queued behind the threads' stop markers would never run: a
    caller holding the pool from before close gets a 507, not a hang."""
    pool = DevicePool(1, "dev-sda")
    pool.shutdown()
    with pytest.raises(DeviceUnavailable):
        pool.submit(lambda: 1)
