"""The container server: container databases over HTTP, and account reports.

Every SQLite call runs in the device's thread pool (``StorageContext.io``),
so the event loop never waits on a disk. Requests:

- ``PUT|POST|HEAD|GET|DELETE /<dev>/<part>/<a>/<c>``: the container itself.
  A PUT creates it in the storage policy the proxy names
  (``X-Backend-Storage-Policy-Index``, else ``-Default``); a live
  container keeps its policy, and a PUT naming another is 409.
- ``PUT|DELETE /<dev>/<part>/<a>/<c>/<o>`` with ``X-Backend-Type:
  container``: an object row update from an object server. It is accepted
  (201/204) even when the stored row is newer: the update is then simply
  superseded, which is what makes replays harmless.

Account reports. A container PUT or DELETE reports the container's row to
its account server(s) before answering, as Swift's container server does.
Stats that change later through object rows are reported by the same
server, *debounced*: the first change arms a timer (``account_update_delay``)
and the report then sends whatever the stats are by that time, so a burst
of a thousand uploads costs one account update, not a thousand. Swift leaves
this to a container updater that walks every database each pass; reporting
from the server costs nothing when nothing changes and keeps listings of
the account fresh within the delay. A report that cannot be sent is queued
in ``async_pending/`` for the updater. What was reported is stored in the
database (``reported_*``), so a change is never reported twice; on shutdown
armed reports are queued to ``async_pending/`` rather than lost.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from multidict import CIMultiDict

from martlet.errors import Conflict, MartletError, MethodNotAllowed
from martlet.expiring import AUTO_CREATE_PREFIX
from storage.async_pending import PendingUpdate, send_or_queue, write_pending
from storage.context import StorageContext
from storage.db import ContainerBroker, ContainerInfo, ObjectUpdate
from storage.db.headers import (
    account_target_from_headers,
    account_update_records,
    container_headers,
    container_policy_from_headers,
    metadata_from_headers,
    object_update_from_request,
    require_timestamp,
)
from storage.db_server import DatabaseServer
from storage.group_commit import GroupCommit
from storage.paths import EntityPath, parse_entity_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContainerServerSection:
    """``[container-server]`` of storage.conf."""

    # Seconds between the first stats change of a container and its report.
    account_update_delay: float = field(default=1.0, metadata={"min": 0.0})


class AccountReporter:
    """Sends container rows to account servers: now, or debounced."""

    def __init__(self, ctx: StorageContext, delay: float) -> None:
        self.ctx = ctx
        self.delay = delay
        self._armed: dict[Path, tuple[str, ContainerBroker, asyncio.TimerHandle]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _device_path(self, device: str) -> Path:
        return self.ctx.layout(device).path

    async def report(self, device: str, broker: ContainerBroker, info: ContainerInfo) -> None:
        """Send ``info``'s row to every account server; queue what fails."""
        if not info.needs_report:
            return
        records = account_update_records(info)
        await asyncio.gather(
            *(
                send_or_queue(
                    self.ctx.client,
                    record,
                    self._device_path(device),
                    self.ctx.io,
                    self.ctx.hash_settings,
                    self.ctx.fsync,
                )
                for record in records
            )
        )
        # Sent or durably queued: either way the report is handed off.
        await self.ctx.io.run(device, broker.mark_reported, info.report)

    def schedule(self, device: str, broker: ContainerBroker) -> None:
        """Arm a report of ``broker``'s stats unless one is already armed."""
        if broker.path in self._armed:
            return
        loop = asyncio.get_running_loop()
        handle = loop.call_later(self.delay, self._fire, device, broker)
        self._armed[broker.path] = (device, broker, handle)

    def _fire(self, device: str, broker: ContainerBroker) -> None:
        self._armed.pop(broker.path, None)
        task = asyncio.create_task(self._report_latest(device, broker))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report_latest(self, device: str, broker: ContainerBroker) -> None:
        try:
            info = await self.ctx.io.run(device, broker.get_info)
            await self.report(device, broker, info)
        except Exception:  # a background report must never kill the loop
            log.exception("account report failed", extra={"db": str(broker.path)})

    async def close(self) -> None:
        """Queue armed reports in async_pending; let reports in flight finish
        (the app closes its servers before the context's client)."""
        armed, self._armed = self._armed, {}
        for _device, _broker, handle in armed.values():
            handle.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        for device, broker, _handle in armed.values():
            await asyncio.to_thread(self._queue_now, device, broker)

    def _queue_now(self, device: str, broker: ContainerBroker) -> None:
        try:
            info = broker.get_info()
            if not info.needs_report:
                return
            for record in account_update_records(info):
                write_pending(
                    self._device_path(device), record, self.ctx.hash_settings, self.ctx.fsync
                )
            broker.mark_reported(info.report)
        except Exception:
            log.exception("could not queue account report", extra={"db": str(broker.path)})


class ContainerServer(DatabaseServer[ContainerInfo]):
    """The ``container`` entity of the storage daemon's dispatch registry."""

    kind = "container"
    kind_phrase = "a container"

    def __init__(self, ctx: StorageContext) -> None:
        super().__init__(ctx)
        self.reporter = AccountReporter(ctx, ctx.config.section("container-server", ContainerServerSection).account_update_delay)
        self.row_updates: GroupCommit[ObjectUpdate, bool] = GroupCommit(ctx.io)

    def broker(self, path: EntityPath) -> ContainerBroker:
        return ContainerBroker(self.db_file(path, path.names.container_path()), fsync=self.ctx.fsync)

    def info_headers(self, info: ContainerInfo) -> dict[str, str]:
        return container_headers(info, self.ctx.policies)

    def listing_name(self, path: EntityPath) -> str:
        assert path.names.container is not None
        return path.names.container

    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        if path.names.obj is not None:
            return await self.object_row(request, path)
        return await self.handle_entity(request, path)

    async def close(self) -> None:
        await self.row_updates.close()
        await self.reporter.close()

    async def object_row(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        await self.merge_row(request.method, path, request.headers)
        return web.Response(status=201 if request.method == "PUT" else 204)

    async def merge_row(self, method: str, path: EntityPath, headers: Mapping[str, str]) -> None:
        """An object server's row update (PUT or DELETE), committed; over
        HTTP (``object_row``) or from this node's own object server
        (``local_row``)."""
        if method not in ("PUT", "DELETE"):
            raise MethodNotAllowed("object rows take PUT or DELETE")
        assert path.names.obj is not None
        update = object_update_from_request(method, path.names.obj, headers)
        broker = self.broker(path)
        if path.names.account.startswith(AUTO_CREATE_PREFIX):
            await self._auto_create(headers, path, broker, update.created_at)
        # Concurrent updates of one container share a transaction.
        if await self.row_updates.submit(path.device, str(broker.path), update, broker.merge_objects):
            self.reporter.schedule(path.device, broker)

    async def local_row(self, record: PendingUpdate) -> bool:
        """The update an object server of this same node would send over
        HTTP to this server, applied in process: the same path checks,
        device check and merge, without a request to itself. True when
        committed (what a 2xx answer would say); False when the HTTP
        request would have failed, so the caller queues it as it would."""
        try:
            # The record is our own object server's, for a path it took
            # (a reserved name only where the proxy allowed one).
            path = parse_entity_path(record.path, allow_reserved=True)
            await self.ctx.io.check(path.device)
            await self.merge_row(record.method, path, CIMultiDict(record.headers))
        except (MartletError, web.HTTPException, OSError, sqlite3.Error, ValueError) as exc:
            # What would be a 4xx/5xx answer over HTTP: queued by the caller.
            log.info("local update failed", extra={"path": record.path, "error": repr(exc)})
            return False
        except Exception:
            # A bug must not lose the row either: queued, and loud.
            log.exception("local update failed unexpectedly", extra={"path": record.path})
            return False
        return True

    async def _auto_create(self, headers: Mapping[str, str], path: EntityPath, broker: ContainerBroker,
                           timestamp: str) -> None:
        """A container of the cluster's own accounts (the expirer's task
        containers) is created by its first row, as Swift's are; it reports
        to the account replicas the row names (``X-Account-*``)."""
        if broker.exists():
            return
        target = account_target_from_headers(headers)
        tmp_dir = self.ctx.layout(path.device).tmp()
        assert path.names.container is not None
        await self.ctx.io.run(path.device, broker.create, tmp_dir, path.names.account, path.names.container,
                              timestamp, {}, target, 0)

    async def put(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        timestamp = require_timestamp(request.headers)
        metadata = metadata_from_headers(request.headers, "container", timestamp)
        target = account_target_from_headers(request.headers)
        requested, new_policy = container_policy_from_headers(request.headers, self.ctx.policies)
        broker = self.broker(path)
        tmp_dir = self.ctx.layout(path.device).tmp()
        container = self.listing_name(path)

        def work() -> tuple[bool, ContainerInfo]:
            return self.create_or_put(
                broker,
                lambda: broker.create(tmp_dir, path.names.account, container, timestamp, metadata, target,
                                      new_policy),
                lambda: broker.put_container(timestamp, metadata, target, requested, new_policy),
            )

        created, info = await self.ctx.io.run(path.device, work)
        await self.reporter.report(path.device, broker, info)
        return web.Response(status=201 if created else 202)

    async def delete(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        timestamp = require_timestamp(request.headers)
        broker = self.broker(path)
        existed, info = await self.ctx.io.run(path.device, self.mark_deleted, broker, timestamp, _refuse_non_empty)
        await self.reporter.report(path.device, broker, info)
        return web.Response(status=204 if existed else 404)


def _refuse_non_empty(info: ContainerInfo) -> None:
    if info.object_count > 0:
        raise Conflict("container not empty")
