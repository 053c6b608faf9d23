"""Container and account database replication: the storage side, and the
database reads the replicator shares with it.

Protocol: ``REPLICATE /<dev>/<part>/<hash>`` with ``X-Backend-Type:
container|account`` and a msgpack map body ``{"op": ...}``:

* ``sync`` ``{info, sender_id}``: merge the sender's status (put and delete
  timestamps, newest wins) and metadata (newest timestamp per key) into the
  local database and answer ``{"id", "point", "max_row"}``, ``point`` being
  the sender's highest ROWID this database has already merged (-1: none).
  404 when this device has no such database.
* ``create`` ``{info, sender_id}``: make the database from the sender's
  info (names, timestamps, metadata, account target) and answer as ``sync``.
* ``merge`` ``{rows, sender_id, point}``: merge rows (newest timestamp per
  name wins; deleted rows included) and remember ``point`` for the sender.

Why sync points: rows are replaced, never updated (``storage.db``), so
"every row with ROWID > n" is exactly what changed since n. The receiver
keeps, per sender database id, the last ROWID it merged
(``incoming_sync``, a table this module adds to the file), so a pass sends
only what is new; a receiver whose database was lost has no sync point and
is sent everything.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack
from aiohttp import web

from martlet.errors import BadRequest, NotFound
from martlet.hashing import hash_path
from storage.db import AccountBroker, ContainerBroker, ContainerUpdate, DatabaseBroker, ObjectUpdate
from storage.db.broker import ZERO_TIMESTAMP, db_file, decode_metadata
from storage.db.container import AccountTarget
from storage.paths import EntityPath, ReplicatePath

if TYPE_CHECKING:
    from storage.server import EntityServer, StorageContext

HASH_RE = re.compile(r"^[0-9a-f]{32}$")
SYNC_TABLE = "incoming_sync"
ROW_COLUMNS = {
    "container": ("object", "name, created_at, size, content_type, etag, deleted, ctype_timestamp"),
    "account": ("container", "name, put_timestamp, delete_timestamp, object_count, bytes_used, stats_timestamp, deleted"),
}


def make_broker(kind: str, path: Path, fsync: bool) -> DatabaseBroker:
    return (ContainerBroker if kind == "container" else AccountBroker)(path, fsync=fsync)


# -- reads (the sender uses these too) ---------------------------------------


def read_info(broker: DatabaseBroker) -> dict[str, Any]:
    """Blocking: the stats row as a plain map, plus ``max_row``."""
    table, _ = ROW_COLUMNS[broker.kind]
    with broker.connect() as conn:
        cursor = conn.execute(f"SELECT * FROM {broker.stat_table}")
        row = cursor.fetchone()
        if row is None:
            raise NotFound("database has no stats row")
        info = dict(zip([c[0] for c in cursor.description], row))
        (max_row,) = conn.execute(f"SELECT COALESCE(MAX(ROWID), -1) FROM {table}").fetchone()
    info["metadata"] = {k: list(v) for k, v in decode_metadata(info.get("metadata")).items()}
    info["max_row"] = int(max_row)
    info["kind"] = broker.kind
    return info


def rows_since(broker: DatabaseBroker, point: int, limit: int) -> list[list[Any]]:
    """Blocking: up to ``limit`` rows with ROWID > ``point``, ROWID first."""
    table, columns = ROW_COLUMNS[broker.kind]
    with broker.connect() as conn:
        return [
            list(row)
            for row in conn.execute(
                f"SELECT ROWID, {columns} FROM {table} WHERE ROWID > ? ORDER BY ROWID LIMIT ?", (point, limit)
            )
        ]


def sync_point(broker: DatabaseBroker, sender_id: str) -> int:
    with broker.connect() as conn:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SYNC_TABLE,)
        ).fetchone()
        if not exists:
            return -1
        row = conn.execute(f"SELECT point FROM {SYNC_TABLE} WHERE sender_id = ?", (sender_id,)).fetchone()
    return int(row[0]) if row else -1


# -- writes (the receiver) ---------------------------------------------------


def merge_info(broker: DatabaseBroker, info: dict[str, Any]) -> None:
    """Blocking: newest put/delete timestamps and per-key metadata win."""
    metadata = {str(k): (str(v[0]), str(v[1])) for k, v in (info.get("metadata") or {}).items()}
    broker.put(str(info["put_timestamp"]), metadata)
    delete_ts = str(info.get("delete_timestamp") or ZERO_TIMESTAMP)
    if delete_ts > ZERO_TIMESTAMP:
        broker.mark_deleted(delete_ts)


def create_from_info(broker: DatabaseBroker, tmp_dir: Path, info: dict[str, Any]) -> None:
    metadata = {str(k): (str(v[0]), str(v[1])) for k, v in (info.get("metadata") or {}).items()}
    put_ts = str(info["put_timestamp"])
    if isinstance(broker, ContainerBroker):
        target = AccountTarget.decode(str(info.get("account_target") or ""))
        broker.create(tmp_dir, str(info["account"]), str(info["container"]), put_ts, metadata, target)
    elif isinstance(broker, AccountBroker):
        broker.create(tmp_dir, str(info["account"]), put_ts, metadata)
    merge_info(broker, info)


def merge_rows(broker: DatabaseBroker, rows: list[list[Any]], sender_id: str, point: int) -> None:
    """Blocking: merge replicated rows, then remember ``point`` for the sender."""
    if isinstance(broker, ContainerBroker):
        broker.merge_objects(
            ObjectUpdate(str(r[1]), str(r[2]), int(r[3]), str(r[4]), str(r[5]), bool(r[6]), str(r[7]) if len(r) > 7 else "")
            for r in rows
        )
    elif isinstance(broker, AccountBroker):
        broker.merge_containers(
            ContainerUpdate(str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]), str(r[6])) for r in rows
        )
    with broker.transaction() as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {SYNC_TABLE} (sender_id TEXT PRIMARY KEY, point INTEGER NOT NULL)")
        conn.execute(
            f"INSERT INTO {SYNC_TABLE} (sender_id, point) VALUES (?, ?) "
            "ON CONFLICT(sender_id) DO UPDATE SET point = MAX(point, excluded.point)",
            (sender_id, point),
        )


def _check_names(kind: str, hash_: str, info: dict[str, Any], ctx: StorageContext) -> None:
    account = info.get("account")
    container = info.get("container") if kind == "container" else None
    if not isinstance(account, str) or (kind == "container" and not isinstance(container, str)):
        raise BadRequest("info lacks the database's names")
    if hash_path(account, container, settings=ctx.hash_settings) != hash_:
        raise BadRequest("info names another database")


# -- the server side ---------------------------------------------------------


class DatabaseReplication:
    """A container or account server plus the sync protocol above."""

    def __init__(self, inner: EntityServer, ctx: StorageContext, kind: str) -> None:
        self.inner = inner
        self.ctx = ctx
        self.kind = kind

    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        return await self.inner.handle(request, path)

    async def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            await close()

    async def replicate(self, request: web.Request, path: ReplicatePath) -> web.StreamResponse:
        if len(path.rest) != 1 or not HASH_RE.match(path.rest[0]):
            raise BadRequest("database REPLICATE path must be /<device>/<partition>/<hash>")
        hash_ = path.rest[0]
        try:
            body = msgpack.unpackb(await request.read(), raw=False)
        except (ValueError, msgpack.UnpackException):
            raise BadRequest("undecodable REPLICATE body") from None
        if not isinstance(body, dict) or not isinstance(body.get("sender_id"), str):
            raise BadRequest("REPLICATE body must be a map with op and sender_id")
        fsync = self.ctx.config.storage.fsync
        broker = make_broker(self.kind, db_file(self.ctx.devices_root, path.device, self.kind, path.partition, hash_), fsync)
        op = body.get("op")
        sender = body["sender_id"]
        if op in ("sync", "create"):
            info = body.get("info")
            if not isinstance(info, dict):
                raise BadRequest("sync needs info")
            _check_names(self.kind, hash_, info, self.ctx)
            tmp_dir = self.ctx.devices_root / path.device / "tmp"
            answer = await self.ctx.io.run(path.device, self._sync, broker, op, info, sender, tmp_dir)
            return web.Response(body=msgpack.packb(answer), content_type="application/x-msgpack")
        if op == "merge":
            rows, point = body.get("rows"), body.get("point")
            if not isinstance(rows, list) or not isinstance(point, int):
                raise BadRequest("merge needs rows and point")
            try:
                await self.ctx.io.run(path.device, merge_rows, broker, rows, sender, point)
            except (IndexError, ValueError, TypeError):
                raise BadRequest("malformed rows") from None
            return web.Response(status=204)
        raise BadRequest("unknown REPLICATE op")

    @staticmethod
    def _sync(broker: DatabaseBroker, op: str, info: dict[str, Any], sender: str, tmp_dir: Path) -> dict[str, Any]:
        if not broker.exists():
            if op != "create":
                raise NotFound("no such database here")
            create_from_info(broker, tmp_dir, info)
        else:
            merge_info(broker, info)
        mine = read_info(broker)
        return {"id": mine["id"], "point": sync_point(broker, sender), "max_row": mine["max_row"]}
