"""The account server: account databases over HTTP.

Every SQLite call runs in the device's thread pool. Requests:

- ``PUT|POST|HEAD|GET|DELETE /<dev>/<part>/<a>``: the account itself. HEAD
  and GET of an account that does not exist answer 404 (the proxy creates
  accounts on first use); a deleted one answers 404 with
  ``X-Account-Status: Deleted`` and its timestamps.
- ``PUT /<dev>/<part>/<a>/<c>`` with ``X-Backend-Type: account``: a
  container row reported by a container server. It is merged field by field
  (``storage.db.account``), so replays and reordering are harmless; an
  account that does not exist or is deleted answers 404.
"""

from __future__ import annotations

from aiohttp import web

from martlet.errors import Conflict, MethodNotAllowed, NotFound
from storage.db import AccountBroker, AccountInfo, db_path
from storage.db.headers import (
    account_headers,
    container_update_from_request,
    deleted_headers,
    metadata_from_headers,
    require_timestamp,
)
from storage.listing import listing_content_type, parse_listing_params, render_listing
from storage.paths import EntityPath
from storage.server import StorageContext


class AccountServer:
    """The ``account`` entity of the storage daemon's dispatch registry."""

    def __init__(self, ctx: StorageContext) -> None:
        self.ctx = ctx

    def broker(self, path: EntityPath) -> AccountBroker:
        return AccountBroker(
            db_path(
                self.ctx.devices_root,
                path.device,
                "account",
                path.partition,
                path.account,
                hash_settings=self.ctx.hash_settings,
            ),
            fsync=self.ctx.config.storage.fsync,
        )

    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        if path.container is not None:
            if request.method != "PUT":
                raise MethodNotAllowed("container rows take PUT")
            return await self.container_row(request, path)
        handler = {
            "PUT": self.put,
            "POST": self.post,
            "HEAD": self.get,
            "GET": self.get,
            "DELETE": self.delete,
        }.get(request.method)
        if handler is None:
            raise MethodNotAllowed(f"{request.method} not allowed on an account")
        return await handler(request, path)

    async def container_row(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        assert path.container is not None
        update = container_update_from_request(path.container, request.headers)
        broker = self.broker(path)

        def work() -> None:
            info = broker.get_info()
            if info.is_deleted:
                raise NotFound("account deleted", headers=deleted_headers(info))
            broker.merge_containers([update])

        await self.ctx.io.run(path.device, work)
        # As Swift: 204 for a report of a deleted container, else 201.
        return web.Response(status=204 if update.delete_timestamp > update.put_timestamp else 201)

    async def put(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        timestamp = require_timestamp(request.headers)
        metadata = metadata_from_headers(request.headers, "account", timestamp)
        broker = self.broker(path)
        tmp_dir = self.ctx.devices_root / path.device / "tmp"

        def work() -> bool:
            if broker.create(tmp_dir, path.account, timestamp, metadata):
                return True
            was_deleted = broker.get_info().is_deleted
            broker.put(timestamp, metadata)
            info = broker.get_info()
            if info.is_deleted:
                raise Conflict("account was deleted after this PUT", headers=deleted_headers(info))
            return was_deleted

        created = await self.ctx.io.run(path.device, work)
        return web.Response(status=201 if created else 202)

    async def post(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        timestamp = require_timestamp(request.headers)
        metadata = metadata_from_headers(request.headers, "account", timestamp)
        broker = self.broker(path)

        def work() -> None:
            info = broker.get_info()
            if info.is_deleted:
                raise NotFound("account deleted", headers=deleted_headers(info))
            broker.update_metadata(metadata)

        await self.ctx.io.run(path.device, work)
        return web.Response(status=204)

    async def delete(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        """Mark the account deleted; its containers are reaped later, as in Swift."""
        timestamp = require_timestamp(request.headers)
        broker = self.broker(path)

        def work() -> bool:
            existed = not broker.get_info().is_deleted
            broker.mark_deleted(timestamp)
            if not broker.get_info().is_deleted:
                raise Conflict("account was put after this DELETE")
            return existed

        existed = await self.ctx.io.run(path.device, work)
        return web.Response(status=204 if existed else 404)

    async def get(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        broker = self.broker(path)
        params = parse_listing_params(request.query) if request.method == "GET" else None
        content_type = listing_content_type(request.query.get("format"), request.headers.get("Accept"))

        def work() -> tuple[AccountInfo, bytes | None]:
            info = broker.get_info()
            if info.is_deleted:
                raise NotFound("account deleted", headers=deleted_headers(info))
            if params is None:
                return info, None
            entries = broker.list_page(params)
            if not entries and content_type == "text/plain":
                return info, None
            return info, render_listing(entries, content_type, "account", path.account)

        info, body = await self.ctx.io.run(path.device, work)
        headers = account_headers(info)
        if body is None:  # HEAD, or an empty plain listing
            return web.Response(status=204, headers=headers)
        response = web.Response(status=200, body=body, headers=headers)
        response.content_type = content_type
        response.charset = "utf-8"
        return response
