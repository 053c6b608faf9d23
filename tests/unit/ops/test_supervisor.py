"""The node supervisor with stand-in daemons: restart with backoff, stop,
restart on request, a failed first start, the report. (The real daemons
under ``martlet node``: tests/cluster/test_node.py.)"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping

import pytest

from martlet.errors import ConfigError, UsageError
from martlet.serve import DaemonMain, NodeDaemon
from ops.supervisor import ChildState, Policy, Supervisor, after_failure, restart_delay
from tests.waiting import until

FAST = Policy(backoff=0.05, max_backoff=0.4, stop_timeout=0.5)


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = Policy(backoff=1.0, max_backoff=10.0)
    assert [restart_delay(n, policy) for n in (1, 2, 3, 4, 5, 6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_failure_after_a_long_run_starts_the_backoff_over() -> None:
    policy = Policy(backoff=1.0, max_backoff=10.0)
    flapping = ChildState("running", since=100.0, restarts=3, failures=3)
    again = after_failure(flapping, 105.0, "boom", policy)
    assert (again.state, again.failures, again.next_start, again.last_error) == ("backoff", 4, 113.0, "boom")
    settled = after_failure(flapping, 111.0, "boom", policy)
    assert (settled.failures, settled.next_start) == (1, 112.0)


class Daemon:
    """A stand-in daemon: counts its starts, runs until stopped, and fails
    the way the test says (``fail_runs``: raise in run; ``fail_prepare``)."""

    def __init__(self, fail_runs: int = 0, fail_prepare: Exception | None = None, ignore_stop: bool = False) -> None:
        self.starts = 0
        self.fail_runs = fail_runs
        self.fail_prepare = fail_prepare
        self.ignore_stop = ignore_stop
        self.threads: set[str] = set()
        self.reports: list[Mapping[str, object]] = []

    def __call__(self, config_path: str, report: Callable[[], Mapping[str, object]]) -> DaemonMain:
        if self.fail_prepare is not None:
            raise self.fail_prepare
        self.starts += 1
        self.threads.add(threading.current_thread().name)
        self.reports.append(report())

        async def run(stop: asyncio.Event) -> None:
            if self.fail_runs:
                self.fail_runs -= 1
                raise RuntimeError("crashed")
            if self.ignore_stop:
                await asyncio.sleep(3600)
            await stop.wait()

        return run


def states(supervisor: Supervisor) -> dict[str, str]:
    daemons = supervisor.report()["daemons"]
    assert isinstance(daemons, dict)
    return {name: state["state"] for name, state in daemons.items()}


async def running(daemons: Mapping[str, NodeDaemon], policy: Policy = FAST) -> tuple[Supervisor, asyncio.Task[None]]:
    supervisor = Supervisor("node.conf", daemons, policy)
    assert await supervisor.start()
    return supervisor, asyncio.create_task(supervisor.run())


async def test_each_daemon_runs_on_its_own_thread_and_stops_on_request() -> None:
    a, b = Daemon(), Daemon()
    supervisor, task = await running({"a": a, "b": b})
    assert states(supervisor) == {"a": "running", "b": "running"}
    assert a.threads == {"node-a"} and b.threads == {"node-b"}
    assert a.reports[0]["daemons"]["a"]["state"] == "starting"  # type: ignore[index]
    supervisor.request_stop()
    await asyncio.wait_for(task, 5)
    assert states(supervisor) == {"a": "stopped", "b": "stopped"}
    assert supervisor.alive == []


async def test_a_crashed_daemon_is_started_again_after_a_growing_backoff() -> None:
    flaky, steady = Daemon(fail_runs=3), Daemon()
    supervisor, task = await running({"flaky": flaky, "steady": steady})
    await until(lambda: flaky.starts == 4 and states(supervisor)["flaky"] == "running")
    report = supervisor.report()["daemons"]
    assert report["flaky"]["restarts"] == 3 and "RuntimeError: crashed" in report["flaky"]["last_error"]  # type: ignore[index]
    assert steady.starts == 1 and report["steady"]["restarts"] == 0  # type: ignore[index]
    supervisor.request_stop()
    await asyncio.wait_for(task, 5)


async def test_backoff_is_reported_while_it_waits() -> None:
    flaky = Daemon(fail_runs=1)
    supervisor, task = await running({"flaky": flaky}, Policy(backoff=0.5, max_backoff=1.0, stop_timeout=0.5))
    await until(lambda: states(supervisor)["flaky"] == "backoff")
    state = supervisor.report()["daemons"]["flaky"]  # type: ignore[index]
    assert state["next_start"] > state["since"]
    await until(lambda: states(supervisor)["flaky"] == "running")
    supervisor.request_stop()
    await asyncio.wait_for(task, 5)


async def test_restart_on_request_starts_every_daemon_again() -> None:
    a, b = Daemon(), Daemon()
    supervisor, task = await running({"a": a, "b": b})
    supervisor.request_restart()
    await until(lambda: a.starts == 2 and b.starts == 2 and set(states(supervisor).values()) == {"running"})
    assert supervisor.report()["daemons"]["a"]["restarts"] == 0  # type: ignore[index]  # asked for, not a failure
    supervisor.request_stop()
    await asyncio.wait_for(task, 5)


async def test_a_daemon_that_ignores_stop_is_cancelled() -> None:
    stubborn = Daemon(ignore_stop=True)
    supervisor, task = await running({"stubborn": stubborn}, Policy(0.05, 0.4, stop_timeout=0.2))
    started = time.monotonic()
    supervisor.request_stop()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 2.0
    assert supervisor.alive == []


@pytest.mark.parametrize("error, kind", [(ConfigError("x.conf: [storage] bind_port: bad"), ConfigError),
                                         (UsageError("127.0.0.1:6200 is in use"), UsageError)])
async def test_a_daemon_that_cannot_start_fails_the_first_start_in_one_line(error: Exception, kind: type) -> None:
    first, broken, never = Daemon(), Daemon(fail_prepare=error), Daemon()
    supervisor = Supervisor("node.conf", {"first": first, "broken": broken, "never": never}, FAST)
    with pytest.raises(kind) as caught:
        await supervisor.start()
    assert str(caught.value) == f"broken: {error}"
    assert never.starts == 0, "started in order: nothing after the one that failed"
    assert supervisor.alive == [] and states(supervisor)["first"] == "stopped"


async def test_a_daemon_that_cannot_start_later_waits_in_backoff() -> None:
    later = Daemon()
    supervisor, task = await running({"later": later})
    later.fail_prepare = ConfigError("bad config now")
    supervisor.request_restart()
    await until(lambda: supervisor.report()["daemons"]["later"]["last_error"] == "bad config now")  # type: ignore[index]
    assert states(supervisor)["later"] in ("backoff", "starting")
    later.fail_prepare = None
    await until(lambda: states(supervisor)["later"] == "running")
    supervisor.request_stop()
    await asyncio.wait_for(task, 5)
