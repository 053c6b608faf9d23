"""Database REPLICATE: the storage daemon's HTTP shell of database sync.

``REPLICATE /<dev>/<part>/<hash>`` with ``X-Backend-Type: container|account``
and a msgpack body (the messages of ``storage.replication_protocol``:
``sync``, ``create``, ``merge``). This module only decodes the request,
checks that it names this path's database, and runs the SQL of
``storage.db_sync`` in the device's thread pool; ``storage.server`` wraps
it around the container and account servers.
"""

from __future__ import annotations

from aiohttp import web

from martlet.errors import BadRequest
from storage.context import EntityHandler, StorageContext
from storage.db import db_file
from storage.db_sync import make_broker, merge_rows, sync_database
from storage.layout import NAME_HASH_RE
from storage.paths import EntityPath, ReplicatePath
from storage.replication_protocol import MSGPACK_TYPE, MergeRequest, decode_request


class DatabaseReplication:
    """A container or account server plus the database sync endpoint."""

    def __init__(self, inner: EntityHandler, ctx: StorageContext, kind: str) -> None:
        self.inner = inner
        self.ctx = ctx
        self.kind = kind

    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        return await self.inner.handle(request, path)

    async def close(self) -> None:
        await self.inner.close()

    async def replicate(self, request: web.Request, path: ReplicatePath) -> web.StreamResponse:
        if len(path.rest) != 1 or not NAME_HASH_RE.match(path.rest[0]):
            raise BadRequest("database REPLICATE path must be /<device>/<partition>/<hash>")
        name_hash = path.rest[0]
        try:
            message = decode_request(self.kind, await request.read())
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        broker = make_broker(
            self.kind, db_file(self.ctx.devices_root, path.device, self.kind, path.partition, name_hash), self.ctx.fsync
        )
        if isinstance(message, MergeRequest):
            await self.ctx.io.run(path.device, merge_rows, broker, message.rows, message.sender_id, message.point)
            return web.Response(status=204)
        if message.info.name_hash(self.ctx.hash_settings) != name_hash:
            raise BadRequest("info names another database")
        tmp_dir = self.ctx.layout(path.device).tmp()
        reply = await self.ctx.io.run(path.device, sync_database, broker, message, tmp_dir)
        return web.Response(body=reply.encode(), content_type=MSGPACK_TYPE)
