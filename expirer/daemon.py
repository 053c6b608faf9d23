"""The expirer's passes: list the due task containers of
``.expiring_objects``, delete each due object of this node's share, then its
task row.

It talks to the storage daemons directly, with the rings (as the
replicators do), signed like every backend request:

- the hidden account's listing (from its account replicas) names the task
  containers; each due one's listing (from its container replicas, this
  node's first) names the tasks, read page by page until the rows pass now;
- a task is an object DELETE to every primary of the object's ring with
  ``X-If-Delete-At: <delete_at>`` and ``X-Timestamp: <delete_at>`` (so a
  newer write always wins), each naming one container replica to update,
  as the proxy does; ``expirer.plan.deletion_outcome`` reads the answers:
  deleted, skipped (404/409/412: nothing left to do) or failed (too few
  answers: the task stays for the next pass);
- a done task's row is deleted from every task container replica; an
  empty task container whose day is over is deleted too.

Tasks start at most ``tasks_per_second`` per second, ``concurrency`` at a
time. Each pass's figures go to the stats file (``<devices>/expirer.json``),
which the storage daemon's ``/recon`` and ``/metrics`` show
(``martlet_last_pass_count{daemon="expirer",figure=...}``,
``martlet_last_pass_duration_seconds``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from expirer.config import ExpirerSection
from expirer.plan import (
    container_finished,
    deletion_outcome,
    due_containers,
    due_tasks,
    quorum,
    replica_of,
)
from martlet.backend import BackendTimeouts, backend_path, backend_request, make_session
from martlet.backend_auth import backend_key
from martlet.expiring import HIDDEN_ACCOUNT, Task
from martlet.netaddr import host_port
from martlet.policies import POLICY_INDEX_HEADER
from martlet.timestamp import Timestamp
from martlet.ratelimit import RateLimiter
from replicator.config import ring_address
from replicator.daemon import repeat_passes
from replicator.stats import write_stats
from ring import Device, Ring, load_ring
from storage.config import StorageConfig
from storage.layout import stats_file
from storage.paths import BACKEND_TYPE_HEADER

log = logging.getLogger(__name__)

_NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


@dataclass
class ExpirerPass:
    """What one pass did."""

    containers: int = 0  # due task containers of this node's
    tasks: int = 0  # tasks processed (tried)
    deleted: int = 0  # objects deleted
    skipped: int = 0  # tasks with nothing to delete (gone, overwritten, delete-at moved)
    failures: int = 0  # tasks left for the next pass, and listings no replica answered
    containers_deleted: int = 0  # empty task containers removed
    seconds: float = 0.0

    def figures(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class _Rings:
    account: Ring
    container: Ring
    objects: Mapping[int, Ring] = field(default_factory=dict)


class Expirer:
    name = "expirer"  # its name in its stats file and in /recon

    def __init__(self, storage: StorageConfig, section: ExpirerSection) -> None:
        self.storage = storage
        self.section = section
        self.key = backend_key(storage.cluster)
        self.address = ring_address(storage, section.ring_ip, section.ring_port)
        self.stats_file = stats_file(storage.devices_root, self.name, section.stats_file)

    # -- rings ---------------------------------------------------------------

    def _load_rings(self) -> _Rings:
        """Blocking: the rings as they are on disk now (read each pass, so a
        rebalanced ring is used without a restart)."""
        cluster = self.storage.cluster
        objects = {}
        for policy in cluster.policies:
            try:
                objects[policy.index] = load_ring(cluster.ring_path("object", policy.index), cluster.hash)
            except FileNotFoundError:
                continue
        return _Rings(load_ring(cluster.ring_path("account"), cluster.hash),
                      load_ring(cluster.ring_path("container"), cluster.hash), objects)

    def _local(self, nodes: Sequence[Device]) -> list[int]:
        return [i for i, n in enumerate(nodes) if (n.ip, n.port) == self.address]

    # -- one pass ------------------------------------------------------------

    async def run_pass(self, session: aiohttp.ClientSession) -> ExpirerPass:
        started = time.monotonic()
        done = ExpirerPass()
        now = time.time()
        rings = await asyncio.to_thread(self._load_rings)
        part, nodes = rings.account.get_nodes(HIDDEN_ACCOUNT)
        listed = await self._list_all(session, nodes, part, (HIDDEN_ACCOUNT,))
        if listed is None:
            done.failures += 1  # no replica of the hidden account answered: the pass could not look
        limiter = RateLimiter(self.section.tasks_per_second)
        gate = asyncio.Semaphore(self.section.concurrency)
        for container in due_containers((row["name"] for row in listed or []), now):
            cpart, cnodes = rings.container.get_nodes(HIDDEN_ACCOUNT, container)
            local = self._local(cnodes)
            if not local:
                continue
            done.containers += 1
            tasks, empty = await self._due_tasks(session, cnodes, cpart, container, now, local)
            if tasks is None:
                done.failures += 1
                continue
            await asyncio.gather(*(self._run_task(session, rings, cnodes, cpart, container, task, gate, limiter, done)
                                   for task in tasks))
            if empty and container_finished(container, now) and replica_of(container, len(cnodes)) in local:
                if await self._delete_container(session, cnodes, cpart, container):
                    done.containers_deleted += 1
        done.seconds = round(time.monotonic() - started, 6)
        log.info("expirer pass", extra=done.figures())
        await asyncio.to_thread(write_stats, self.stats_file, self.name, done)
        return done

    async def _due_tasks(self, session: aiohttp.ClientSession, nodes: Sequence[Device], part: int, container: str,
                         now: float, local: Sequence[int]) -> tuple[list[Task] | None, bool]:
        """This node's due tasks of ``container`` (None when no replica
        answered) and whether the container was empty."""
        names = (HIDDEN_ACCOUNT, container)
        ordered = [nodes[i] for i in local] + [n for i, n in enumerate(nodes) if i not in local]
        tasks: list[Task] = []
        marker = ""
        first = True
        while True:
            page = await self._list_page(session, ordered, part, names, marker)
            if page is None:
                return (tasks if not first else None), False
            if first and not page:
                return [], True
            first = False
            found, past_now = due_tasks(((r["name"], r.get("content_type", "")) for r in page), now,
                                        len(nodes), local)
            tasks += found
            if past_now or len(page) < self.section.listing_limit:
                return tasks, False
            marker = page[-1]["name"]

    async def _list_all(self, session: aiohttp.ClientSession, nodes: Sequence[Device], part: int,
                        names: tuple[str, ...]) -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = []
        marker = ""
        while True:
            page = await self._list_page(session, nodes, part, names, marker)
            if page is None:
                return None if not rows else rows
            rows += page
            if len(page) < self.section.listing_limit:
                return rows
            marker = page[-1]["name"]

    async def _list_page(self, session: aiohttp.ClientSession, nodes: Sequence[Device], part: int,
                         names: tuple[str, ...], marker: str) -> list[dict[str, Any]] | None:
        """One JSON listing page from the first replica that has it: ``[]``
        when every replica that answered has none (404), None when none
        answered."""
        query = {"format": "json", "limit": str(self.section.listing_limit)}
        if marker:
            query["marker"] = marker
        answered = False
        for node in nodes:
            try:
                response = await backend_request(session, node.ip, node.port, "GET",
                                                 backend_path(node.device, part, *names), query=query)
                async with response:
                    body = await response.read()
                    status = response.status
            except _NETWORK_ERRORS as exc:
                log.info("listing failed", extra={"host": host_port(node.ip, node.port), "error": repr(exc)})
                continue
            if status == 404:
                answered = True
                continue
            if status == 204:
                return []
            if 200 <= status < 300:
                try:
                    rows = json.loads(body)
                except ValueError:
                    continue
                return [r for r in rows if isinstance(r, dict) and isinstance(r.get("name"), str)]
        return [] if answered else None

    # -- one task ------------------------------------------------------------

    async def _run_task(self, session: aiohttp.ClientSession, rings: _Rings, task_nodes: Sequence[Device],
                        task_part: int, container: str, task: Task, gate: asyncio.Semaphore,
                        limiter: RateLimiter, done: ExpirerPass) -> None:
        async with gate:
            await asyncio.sleep(limiter.reserve(1))
            done.tasks += 1
            outcome = await self._delete_object(session, rings, task)
            if outcome == "failed":
                done.failures += 1
                return
            if not await self._delete_row(session, task_nodes, task_part, container, task.name):
                done.failures += 1  # the object is gone: the next pass finds a 404 and drops the row
                return
            if outcome == "deleted":
                done.deleted += 1
            else:
                done.skipped += 1

    async def _delete_object(self, session: aiohttp.ClientSession, rings: _Rings, task: Task) -> str:
        ring = rings.objects.get(task.policy)
        if ring is None:
            log.warning("task of an unknown storage policy", extra={"task": task.name, "policy": task.policy})
            return "failed"
        part, nodes = ring.get_nodes(task.account, task.container, task.obj)
        cpart, cnodes = rings.container.get_nodes(task.account, task.container)
        names = (task.account, task.container, task.obj)
        stamp = Timestamp.parse(task.delete_at).internal
        requests = []
        for i, node in enumerate(nodes):
            headers = {"X-Timestamp": stamp, "X-If-Delete-At": str(task.delete_at),
                       POLICY_INDEX_HEADER: str(task.policy)}
            if cnodes:
                parent = cnodes[i % len(cnodes)]
                headers.update({"X-Container-Host": host_port(parent.ip, parent.port),
                                "X-Container-Device": parent.device, "X-Container-Partition": str(cpart)})
            requests.append(self._send(session, node, "DELETE", part, names, headers, stamp))
        statuses = await asyncio.gather(*requests)
        outcome = deletion_outcome(statuses, len(nodes))
        log.debug("expired object", extra={"task": task.name, "statuses": statuses, "outcome": outcome})
        return outcome

    async def _delete_row(self, session: aiohttp.ClientSession, nodes: Sequence[Device], part: int,
                          container: str, name: str) -> bool:
        headers = {BACKEND_TYPE_HEADER: "container", "X-Timestamp": Timestamp.now().internal,
                   POLICY_INDEX_HEADER: "0"}
        names = (HIDDEN_ACCOUNT, container, name)
        statuses = await asyncio.gather(*(self._send(session, n, "DELETE", part, names, headers) for n in nodes))
        return quorum(statuses, len(nodes))

    async def _delete_container(self, session: aiohttp.ClientSession, nodes: Sequence[Device], part: int,
                                container: str) -> bool:
        """An empty task container whose day is over; 409 (a row arrived
        meanwhile) leaves it for a later pass."""
        headers = {"X-Timestamp": Timestamp.now().internal}
        names = (HIDDEN_ACCOUNT, container)
        statuses = await asyncio.gather(*(self._send(session, n, "DELETE", part, names, headers) for n in nodes))
        return quorum(statuses, len(nodes), ok=(404,))

    async def _send(self, session: aiohttp.ClientSession, node: Device, method: str, part: int,
                    names: tuple[str, ...], headers: Mapping[str, str], ours: str = "") -> int | None:
        """One bodiless request; its status, or None when the node could
        not be reached or failed (5xx). An object server answers the DELETE
        of an expired object 404 (as Swift's: to clients it was gone
        already) with the tombstone it wrote as ``X-Backend-Timestamp``:
        when that is ``ours``, this request deleted it, which counts as 204."""
        path = backend_path(node.device, part, *names)
        try:
            response = await backend_request(session, node.ip, node.port, method, path, headers=headers)
            async with response:
                await response.read()
                status = response.status
                if ours and status == 404 and response.headers.get("X-Backend-Timestamp") == ours:
                    status = 204
        except _NETWORK_ERRORS as exc:
            log.info("expirer request failed", extra={"host": host_port(node.ip, node.port), "path": path,
                                                      "error": repr(exc)})
            return None
        return None if status >= 500 else status

    # -- the daemon ----------------------------------------------------------

    def make_session(self) -> aiohttp.ClientSession:
        return make_session(self.key, BackendTimeouts(self.section.conn_timeout, self.section.node_timeout),
                            connections_per_host=self.section.concurrency)

    async def run(self, once: bool = False, stop: asyncio.Event | None = None) -> None:
        """One pass (``once``) or passes every ``interval`` until ``stop`` is set."""
        async with self.make_session() as session:
            await repeat_passes(lambda: self.run_pass(session), self.section.interval, once,
                                stop or asyncio.Event(), log, "expirer pass")
