"""Database sync: what replication reads from and merges into a database file.

Both sides use it: the database replicator reads a database's info and its
rows (``read_info``, ``rows_since``); a peer's storage daemon, behind the
HTTP shell ``storage.db_replication``, merges what it is sent
(``sync_database``, ``merge_rows``). The messages are the typed records of
``storage.replication_protocol``; this module is their SQL.

Why sync points: rows are replaced, never updated (``storage.db``), so
"every row with ROWID > n" is exactly what changed since n. The receiver
keeps, per sender database id, the last ROWID it merged
(``incoming_sync``, a table this module adds to the file), so a pass sends
only what is new; a receiver whose database was lost has no sync point and
is sent everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from martlet.errors import NotFound
from storage.db.account import AccountBroker, ContainerUpdate
from storage.db.broker import ZERO_TIMESTAMP, DatabaseBroker, decode_metadata
from storage.db.container import AccountTarget, ContainerBroker, ObjectUpdate, PolicyState, peer_policy_wins
from storage.replication_protocol import DbInfo, SyncReply, SyncRequest, SyncRow

SYNC_TABLE = "incoming_sync"
# Row table and its columns per kind, in the order of SyncRow's list form.
ROW_COLUMNS = {
    "container": ("object", "name, created_at, size, content_type, etag, deleted, ctype_timestamp"),
    "account": (
        "container",
        "name, put_timestamp, delete_timestamp, object_count, bytes_used, stats_timestamp, deleted, "
        "storage_policy_index",
    ),
}
# The stats row's columns DbInfo needs, in DbInfo's order (id to metadata,
# then the storage policy and status_changed_at).
_INFO_COLUMNS = {
    "container": "id, account, container, put_timestamp, delete_timestamp, object_count, 0, account_target, "
    "metadata, storage_policy_index, status_changed_at",
    "account": "id, account, NULL, put_timestamp, delete_timestamp, object_count, container_count, '', "
    "metadata, NULL, status_changed_at",
}

T = TypeVar("T", ObjectUpdate, ContainerUpdate)


def make_broker(kind: str, path: Path, fsync: bool) -> DatabaseBroker:
    return (ContainerBroker if kind == "container" else AccountBroker)(path, fsync=fsync)


# -- reads (the sender's, and the receiver's answer) -------------------------


def read_info(broker: DatabaseBroker) -> DbInfo:
    """Blocking: the stats row and the highest ROWID."""
    table, _ = ROW_COLUMNS[broker.kind]
    with broker.connect() as conn:
        row = conn.execute(f"SELECT {_INFO_COLUMNS[broker.kind]} FROM {broker.stat_table}").fetchone()
        if row is None:
            raise NotFound("database has no stats row")
        (max_row,) = conn.execute(f"SELECT COALESCE(MAX(ROWID), -1) FROM {table}").fetchone()
    id_, account, container, put_ts, delete_ts, objects, containers, target, metadata, policy, changed_at = row
    return DbInfo(
        kind=broker.kind,
        id=str(id_),
        account=str(account),
        container=None if container is None else str(container),
        put_timestamp=str(put_ts),
        delete_timestamp=str(delete_ts),
        object_count=int(objects),
        container_count=int(containers),
        account_target=str(target),
        metadata=decode_metadata(metadata),
        max_row=int(max_row),
        storage_policy_index=None if policy is None else int(policy),
        status_changed_at=str(changed_at),
    )


def rows_since(broker: DatabaseBroker, point: int, limit: int) -> list[SyncRow]:
    """Blocking: up to ``limit`` rows with ROWID > ``point``, in ROWID order."""
    table, columns = ROW_COLUMNS[broker.kind]
    with broker.connect() as conn:
        found = conn.execute(
            f"SELECT ROWID, {columns} FROM {table} WHERE ROWID > ? ORDER BY ROWID LIMIT ?", (point, limit)
        ).fetchall()
    return [SyncRow.from_wire(broker.kind, row) for row in found]


def sync_point(broker: DatabaseBroker, sender_id: str) -> int:
    """Blocking: the last of ``sender_id``'s ROWIDs merged here, -1 for none."""
    with broker.connect() as conn:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SYNC_TABLE,)
        ).fetchone()
        if not exists:
            return -1
        row = conn.execute(f"SELECT point FROM {SYNC_TABLE} WHERE sender_id = ?", (sender_id,)).fetchone()
    return int(row[0]) if row else -1


# -- writes (the receiver's) -------------------------------------------------


def merge_info(broker: DatabaseBroker, info: DbInfo) -> None:
    """Blocking: newest put/delete timestamps and per-key metadata win; a
    container takes the peer's storage policy when the peer's is the one
    replicas settle on (``peer_policy_wins``, judged before the merge)."""
    if isinstance(broker, ContainerBroker) and info.storage_policy_index is not None:
        theirs = PolicyState(info.storage_policy_index, info.put_timestamp, info.delete_timestamp,
                             info.object_count, info.status_changed_at)
        if peer_policy_wins(broker.get_info().policy_state, theirs):
            broker.set_storage_policy(info.storage_policy_index)
    broker.put(info.put_timestamp, info.metadata)
    if info.delete_timestamp > ZERO_TIMESTAMP:
        broker.mark_deleted(info.delete_timestamp)


def create_from_info(broker: DatabaseBroker, tmp_dir: Path, info: DbInfo) -> None:
    """Blocking: make the database a sender has and this device lacks."""
    if isinstance(broker, ContainerBroker):
        target = AccountTarget.decode(info.account_target)
        broker.create(tmp_dir, info.account, str(info.container), info.put_timestamp, info.metadata, target,
                      info.storage_policy_index or 0)
    elif isinstance(broker, AccountBroker):
        broker.create(tmp_dir, info.account, info.put_timestamp, info.metadata)
    merge_info(broker, info)


def sync_database(broker: DatabaseBroker, request: SyncRequest, tmp_dir: Path) -> SyncReply:
    """Blocking: a ``sync`` (or ``create``) from a peer, and the answer."""
    if not broker.exists():
        if not request.create:
            raise NotFound("no such database here")
        create_from_info(broker, tmp_dir, request.info)
    else:
        merge_info(broker, request.info)
    mine = read_info(broker)
    return SyncReply(mine.id, sync_point(broker, request.sender_id), mine.max_row)


def merge_rows(broker: DatabaseBroker, rows: Sequence[SyncRow], sender_id: str, point: int) -> None:
    """Blocking: merge replicated rows, then remember ``point`` for the sender."""
    if isinstance(broker, ContainerBroker):
        broker.merge_objects(_rows_of(ObjectUpdate, rows))
    elif isinstance(broker, AccountBroker):
        broker.merge_containers(_rows_of(ContainerUpdate, rows))
    with broker.transaction() as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {SYNC_TABLE} (sender_id TEXT PRIMARY KEY, point INTEGER NOT NULL)")
        conn.execute(
            f"INSERT INTO {SYNC_TABLE} (sender_id, point) VALUES (?, ?) "
            "ON CONFLICT(sender_id) DO UPDATE SET point = MAX(point, excluded.point)",
            (sender_id, point),
        )


def _rows_of(cls: type[T], rows: Sequence[SyncRow]) -> list[T]:
    found = [r.row for r in rows if isinstance(r.row, cls)]
    if len(found) != len(rows):
        raise ValueError("rows of another kind of database")
    return found
