"""The daemons of one storage node, supervised inside one process.

``martlet node`` runs a node's storage daemon and its background daemons
(replicator, db-replicator, auditor, updater, expirer) as *children* of one
``Supervisor``: each child is a thread with its own event loop, so a pass
that keeps its loop busy for a while never stalls the storage daemon's
requests, and the node costs one interpreter instead of six (a dev
cluster: 5 processes, not 25). The price is shared fate: a crash of the
interpreter itself (a segfault, the OOM killer) ends every daemon of the
node, and whoever started the node (compose's restart policy, systemd)
restarts it; the separate ``martlet storage``/``replicator``/... commands
stay for operators who want that isolation.

A child is a ``martlet.serve.NodeDaemon``: prepared on its thread (config
read, port bound), then run until its stop event is set. The supervisor

- starts the children in order, each once the one before runs; one that
  cannot be prepared at the node's first start (port in use, bad config)
  fails the node with that one-line reason;
- restarts a child that ends on its own or raises, after a backoff that
  doubles per consecutive failure (``backoff`` to ``max_backoff``; a child
  that ran ``max_backoff`` seconds before failing starts over at ``backoff``);
- on ``stop`` sets every child's stop event, waits ``stop_timeout``,
  cancels what is still running and gives it two more seconds; on
  ``restart`` (SIGHUP) does the same and starts every child again, which
  re-reads the config;
- keeps a report of every child (``report``: state, since when, restarts,
  last error) that the storage daemon serves on /recon and that
  ``martlet healthcheck`` reads.

Log lines carry the child's name as ``daemon`` (``daemon_tag``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import uvloop

from martlet.errors import ConfigError, MartletError, RingError, UsageError
from martlet.logs import ContextTag
from martlet.serve import DaemonMain, NodeDaemon

log = logging.getLogger(__name__)

# What an operator can fix, told in one line: never a traceback.
ONE_LINE_ERRORS = (ConfigError, UsageError, RingError, MartletError)

CANCEL_GRACE = 2.0  # seconds a cancelled child gets before the node gives up on it
DAEMON: contextvars.ContextVar[str] = contextvars.ContextVar("daemon", default="node")


def daemon_tag() -> ContextTag:
    """The filter that adds ``daemon`` (the child a line comes from, ``node``
    for the supervisor) to every record that does not name one itself."""
    return ContextTag("daemon", DAEMON)


@dataclass(frozen=True)
class Policy:
    """How the supervisor restarts and stops children (``[node]`` of storage.conf)."""

    backoff: float = 1.0
    max_backoff: float = 60.0
    stop_timeout: float = 10.0


@dataclass(frozen=True)
class ChildState:
    """What the report says about one child. ``state`` is ``starting``,
    ``running``, ``backoff`` (failed, waiting to start again), ``stopping``
    or ``stopped``; ``failures`` counts consecutive failures (it decides the
    next backoff), ``restarts`` every start after a failure."""

    state: str = "starting"
    since: float = 0.0
    restarts: int = 0
    failures: int = 0
    last_error: str = ""
    next_start: float | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"state": self.state, "since": self.since, "restarts": self.restarts,
                                "last_error": self.last_error}
        if self.next_start is not None:
            data["next_start"] = self.next_start
        return data


def restart_delay(failures: int, policy: Policy) -> float:
    """Seconds before the start that follows the ``failures``-th consecutive failure."""
    return min(policy.max_backoff, policy.backoff * 2 ** max(0, failures - 1))


def after_failure(state: ChildState, now: float, error: str, policy: Policy) -> ChildState:
    """The state of a child that just failed: one that had run for
    ``max_backoff`` seconds counts as a first failure again."""
    ran_long = state.state == "running" and now - state.since >= policy.max_backoff
    failures = 1 if ran_long else state.failures + 1
    delay = restart_delay(failures, policy)
    return ChildState("backoff", now, state.restarts, failures, error, now + delay)


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "ended on its own"
    if isinstance(exc, ONE_LINE_ERRORS):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Child:
    """One run of one daemon on its own thread. ``notify(child, kind, exc)``
    is called from that thread: ``running`` once prepared, then ``ended``
    (``exc`` None, or what it raised), or ``failed`` if it could not be prepared."""

    def __init__(self, name: str, prepare: NodeDaemon, config_path: str, report: Callable[[], Mapping[str, object]],
                 notify: Callable[[Child, str, BaseException | None], None]) -> None:
        self.name = name
        self.prepare = prepare
        self.config_path = config_path
        self.report = report
        self.notify = notify
        self.thread = threading.Thread(target=self._main, name=f"node-{name}", daemon=True)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[Any] | None = None
        self._stopping = False

    def start(self) -> None:
        self.thread.start()

    def _main(self) -> None:
        DAEMON.set(self.name)
        try:
            main = self.prepare(self.config_path, self.report)
        except BaseException as exc:  # noqa: BLE001 - told to the supervisor, which decides
            self.notify(self, "failed", exc)
            return
        try:
            uvloop.run(self._run(main))
        except asyncio.CancelledError:
            self.notify(self, "ended", None if self._stopping else asyncio.CancelledError("cancelled"))
        except BaseException as exc:  # noqa: BLE001
            self.notify(self, "ended", exc)
        else:
            self.notify(self, "ended", None)

    async def _run(self, main: DaemonMain) -> None:
        stop = asyncio.Event()
        with self._lock:
            self._loop, self._stop, self._task = asyncio.get_running_loop(), stop, asyncio.current_task()
            if self._stopping:
                stop.set()
        self.notify(self, "running", None)
        await main(stop)

    def stop(self) -> None:
        """Ask the daemon to end (thread-safe; before it runs, it will not)."""
        with self._lock:
            self._stopping = True
            if self._stop is not None:
                self._call(self._stop.set)

    def cancel(self) -> None:
        with self._lock:
            if self._task is not None:
                self._call(self._task.cancel)

    def _call(self, callback: Callable[[], object]) -> None:
        """``callback`` on the child's loop, unless that loop has ended."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # closed between the check and the call
            pass

    @property
    def stopping(self) -> bool:
        return self._stopping


class Supervisor:
    """The children of one node (see module docstring). Driven from one
    event loop: ``start``, then ``run`` until ``request_stop``."""

    def __init__(self, config_path: str, daemons: Mapping[str, NodeDaemon], policy: Policy,
                 clock: Callable[[], float] = time.time) -> None:
        self.config_path = config_path
        self.daemons = dict(daemons)
        self.policy = policy
        self.clock = clock
        self.started_at = clock()
        self.states = {name: ChildState(since=self.started_at) for name in self.daemons}
        self.children: dict[str, Child] = {}
        self._snapshot: dict[str, object] = {}
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._publish()

    # -- the report ------------------------------------------------------------------
    def report(self) -> Mapping[str, object]:
        """The node's report (thread-safe: a snapshot replaced on every change)."""
        return self._snapshot

    def _set(self, name: str, state: ChildState) -> None:
        self.states[name] = state
        self._publish()

    def _publish(self) -> None:
        self._snapshot = {
            "started_at": self.started_at,
            "daemons": {name: state.to_json() for name, state in self.states.items()},
        }

    # -- control, from signal handlers or tests ----------------------------------------
    def request_stop(self) -> None:
        self._queue.put_nowait(("stop", None))

    def request_restart(self) -> None:
        self._queue.put_nowait(("restart", None))

    # -- children ------------------------------------------------------------------------
    def _notify(self, child: Child, kind: str, exc: BaseException | None) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._queue.put_nowait, (kind, (child, exc)))
            except RuntimeError:  # the node's loop closed meanwhile: nobody to tell
                pass

    def _spawn(self, name: str, after_failure: bool = False) -> None:
        child = Child(name, self.daemons[name], self.config_path, self.report, self._notify)
        self.children[name] = child
        state = self.states[name]
        self._set(name, replace(state, state="starting", since=self.clock(), next_start=None,
                                restarts=state.restarts + after_failure))
        child.start()

    @property
    def alive(self) -> list[str]:
        """Children whose thread still runs (after a stop: those it gave up on)."""
        return [name for name, child in self.children.items() if child.thread.is_alive()]

    async def start(self) -> bool:
        """Start the children one after the other, each once the one before
        runs (the storage daemon first: no pass starts on a node whose
        port is taken); True once all run, False if asked to stop meanwhile.
        A child that cannot be prepared stops the others and is raised: a
        ConfigError or UsageError naming the daemon, or its own exception.
        One that fails after it ran is restarted, as later."""
        self._loop = asyncio.get_running_loop()
        for name in self.daemons:
            self._spawn(name)
            current = self.children[name]
            while self.states[name].state != "running":
                kind, payload = await self._queue.get()
                if kind == "stop":
                    await self._stop_children()
                    return False
                if kind == "failed" and payload[0] is current:
                    await self._stop_children()
                    raise _start_failure(name, payload[1])
                if kind != "restart":  # what runs was started from the config just now
                    self._dispatch(kind, payload)
        log.info("node running", extra={"daemons": list(self.daemons)})
        return True

    async def run(self) -> None:
        """Until a stop request: restart what fails, restart all on request."""
        assert self._loop is not None, "start() first"
        while True:
            kind, payload = await self._queue.get()
            if kind == "stop":
                await self._stop_children()
                return
            if kind == "restart":
                log.info("restarting every daemon")
                await self._stop_children()
                for name in self.daemons:
                    self._spawn(name)
                continue
            self._dispatch(kind, payload)

    def _dispatch(self, kind: str, payload: Any) -> None:
        """A child's news (``running``, ``ended``, ``failed``) or a backoff's
        end (``start``); news of a child already replaced is old news."""
        if kind == "start":
            name, waited = payload
            if self.children.get(name) is waited and self.states[name].state == "backoff":
                self._spawn(name, after_failure=True)
            return
        child: Child = payload[0]
        if self.children.get(child.name) is not child or child.stopping:
            return
        self._child_event(child, kind, payload[1])

    def _child_event(self, child: Child, kind: str, exc: BaseException | None) -> None:
        name, now = child.name, self.clock()
        if kind == "running":
            self._set(name, replace(self.states[name], state="running", since=now))
            log.info("daemon running", extra={"daemon": name})
            return
        failed = after_failure(self.states[name], now, describe(exc), self.policy)
        self._set(name, failed)
        delay = (failed.next_start or now) - now
        log.error("daemon failed; starting it again", extra={"daemon": name, "error": failed.last_error,
                                                            "failures": failed.failures, "delay": delay},
                  exc_info=exc if exc is not None and not isinstance(exc, ONE_LINE_ERRORS) else None)
        assert self._loop is not None
        self._loop.call_later(delay, self._queue.put_nowait, ("start", (name, child)))

    async def _stop_children(self) -> None:
        """Stop every child: its stop event, then cancellation, then give up."""
        alive = [c for c in self.children.values() if c.thread.is_alive()]
        for child in alive:
            self._set(child.name, replace(self.states[child.name], state="stopping", since=self.clock()))
            child.stop()
        await _join(alive, self.policy.stop_timeout)
        late = [c for c in alive if c.thread.is_alive()]
        for child in late:
            log.warning("daemon did not stop in time; cancelling it", extra={"daemon": child.name})
            child.cancel()
        await _join(late, CANCEL_GRACE)
        for child in self.children.values():
            if child.thread.is_alive():
                log.error("daemon still running; leaving it", extra={"daemon": child.name})
            self._set(child.name, replace(self.states[child.name], state="stopped", since=self.clock(),
                                          next_start=None))


async def _join(children: list[Child], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for child in children:
        await asyncio.to_thread(child.thread.join, max(0.0, deadline - time.monotonic()))


def _start_failure(name: str, exc: BaseException | None) -> BaseException:
    """The exception a failed first start ends the node with: one line for
    what an operator can fix, the daemon's own exception otherwise."""
    if isinstance(exc, ConfigError):
        return ConfigError(f"{name}: {exc}")
    if isinstance(exc, ONE_LINE_ERRORS):
        return UsageError(f"{name}: {exc}")
    return exc if exc is not None else UsageError(f"{name}: ended while starting")
