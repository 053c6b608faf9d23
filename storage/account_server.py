"""The account server: account databases over HTTP.

Every SQLite call runs in the device's thread pool. Requests:

- ``PUT|POST|HEAD|GET|DELETE /<dev>/<part>/<a>``: the account itself. HEAD
  and GET of an account that does not exist answer 404 (the proxy creates
  accounts on first use); a deleted one answers 404 with
  ``X-Account-Status: Deleted`` and its timestamps.
- ``PUT /<dev>/<part>/<a>/<c>`` with ``X-Backend-Type: account``: a
  container row reported by a container server. It is merged field by field
  (``storage.db.account``), so replays and reordering are harmless; an
  account that does not exist or is deleted answers 404. The row carries
  the container's storage policy (``X-Backend-Storage-Policy-Index``), so
  HEAD/GET report the account's totals per policy too.
"""

from __future__ import annotations

from aiohttp import web

from martlet.errors import MethodNotAllowed
from martlet.expiring import AUTO_CREATE_PREFIX
from storage.db import AccountBroker, AccountInfo
from storage.db.headers import (
    account_headers,
    container_update_from_request,
    metadata_from_headers,
    require_timestamp,
)
from storage.db_server import DatabaseServer
from storage.paths import EntityPath


class AccountServer(DatabaseServer[AccountInfo]):
    """The ``account`` entity of the storage daemon's dispatch registry."""

    kind = "account"
    kind_phrase = "an account"

    def broker(self, path: EntityPath) -> AccountBroker:
        return AccountBroker(self.db_file(path, path.names.account_path()), fsync=self.ctx.fsync)

    def info_headers(self, info: AccountInfo) -> dict[str, str]:
        return account_headers(info, self.ctx.policies)

    def listing_name(self, path: EntityPath) -> str:
        return path.names.account

    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        if path.names.container is not None:
            if request.method != "PUT":
                raise MethodNotAllowed("container rows take PUT")
            return await self.container_row(request, path)
        return await self.handle_entity(request, path)

    async def container_row(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        assert path.names.container is not None
        update = container_update_from_request(path.names.container, request.headers)
        broker = self.broker(path)

        tmp_dir = self.ctx.layout(path.device).tmp()
        auto_create = path.names.account.startswith(AUTO_CREATE_PREFIX)

        def work() -> None:
            if auto_create and not broker.exists():
                # The cluster's own accounts are created by their first row.
                broker.create(tmp_dir, path.names.account, update.put_timestamp, {})
            self.live_info(broker)
            broker.merge_containers([update])

        await self.ctx.io.run(path.device, work)
        # As Swift: 204 for a report of a deleted container, else 201.
        return web.Response(status=204 if update.delete_timestamp > update.put_timestamp else 201)

    async def put(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        timestamp = require_timestamp(request.headers)
        metadata = metadata_from_headers(request.headers, "account", timestamp)
        broker = self.broker(path)
        tmp_dir = self.ctx.layout(path.device).tmp()

        def work() -> tuple[bool, AccountInfo]:
            return self.create_or_put(
                broker,
                lambda: broker.create(tmp_dir, path.names.account, timestamp, metadata),
                lambda: broker.put(timestamp, metadata),
            )

        created, _info = await self.ctx.io.run(path.device, work)
        return web.Response(status=201 if created else 202)

    async def delete(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        """Mark the account deleted; its containers are reaped later, as in Swift."""
        timestamp = require_timestamp(request.headers)
        broker = self.broker(path)
        existed, _info = await self.ctx.io.run(path.device, self.mark_deleted, broker, timestamp)
        return web.Response(status=204 if existed else 404)
