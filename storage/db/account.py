"""The account database: one row per container, and the account's totals.

A container row holds what the container's own servers last reported:
its put and delete timestamps and its object count and bytes used. Rows are
replaced, never updated (see ``storage.db.container``). Merging is
per field: each timestamp keeps its newest value, and the stats are taken
from the report whose ``stats_timestamp`` (when the container's stats last
changed) is newer, so a stale report replayed from ``async_pending`` cannot
overwrite fresher numbers. A report without a stats timestamp (an older
client) is taken as-is, as Swift does.

Storage policies: each container row carries its container's
``storage_policy_index`` (it travels with the stats), and triggers keep a
``policy_stat`` row per policy (containers, objects, bytes) beside the
account's totals, which account HEAD/GET report per policy as Swift's
``X-Account-Storage-Policy-<name>-*``. A file made before policies gains
the column, the table (filled from its rows) and the new triggers when it
is first opened (``upgrade_schema``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from storage.db.broker import (
    NAME_BATCH,
    ZERO_TIMESTAMP,
    DatabaseBroker,
    Metadata,
    decode_metadata,
    maybe_reclaimed,
    range_sql,
    reclaim_cutoff,
    table_columns,
)
from storage.listing import ContainerRecord, RowQuery

ACCOUNT_SCHEMA = """
CREATE TABLE container (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL,
    object_count INTEGER NOT NULL,
    bytes_used INTEGER NOT NULL,
    stats_timestamp TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    storage_policy_index INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_container_deleted_name ON container (deleted, name);

CREATE TABLE account_stat (
    account TEXT NOT NULL,
    created_at TEXT NOT NULL,
    put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL,
    status_changed_at TEXT NOT NULL,
    container_count INTEGER NOT NULL DEFAULT 0,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    id TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT ''
);

CREATE TRIGGER container_update BEFORE UPDATE ON container BEGIN
    SELECT RAISE(FAIL, 'container rows are replaced, never updated');
END;
"""

# Per-policy totals, kept by the row triggers as account_stat's are; apart
# from ACCOUNT_SCHEMA because upgrade_schema adds them to older files, one
# statement at a time (inside its transaction).
POLICY_STAT_TABLE = """
CREATE TABLE policy_stat (
    storage_policy_index INTEGER PRIMARY KEY,
    container_count INTEGER NOT NULL DEFAULT 0,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0
)"""
ROW_TRIGGERS = (
    """CREATE TRIGGER container_insert AFTER INSERT ON container BEGIN
    UPDATE account_stat SET
        container_count = container_count + (1 - new.deleted),
        object_count = object_count + new.object_count,
        bytes_used = bytes_used + new.bytes_used;
    INSERT OR IGNORE INTO policy_stat (storage_policy_index) VALUES (new.storage_policy_index);
    UPDATE policy_stat SET
        container_count = container_count + (1 - new.deleted),
        object_count = object_count + new.object_count,
        bytes_used = bytes_used + new.bytes_used
    WHERE storage_policy_index = new.storage_policy_index;
END""",
    """CREATE TRIGGER container_delete AFTER DELETE ON container BEGIN
    UPDATE account_stat SET
        container_count = container_count - (1 - old.deleted),
        object_count = object_count - old.object_count,
        bytes_used = bytes_used - old.bytes_used;
    UPDATE policy_stat SET
        container_count = container_count - (1 - old.deleted),
        object_count = object_count - old.object_count,
        bytes_used = bytes_used - old.bytes_used
    WHERE storage_policy_index = old.storage_policy_index;
END""",
)
# Fills policy_stat from the rows of a file that had none.
FILL_POLICY_STAT = """
INSERT INTO policy_stat (storage_policy_index, container_count, object_count, bytes_used)
SELECT storage_policy_index, SUM(1 - deleted), SUM(object_count), SUM(bytes_used)
FROM container WHERE deleted IN (0, 1) GROUP BY storage_policy_index"""


@dataclass(frozen=True)
class PolicyStats:
    """An account's totals in one storage policy."""

    index: int
    container_count: int
    object_count: int
    bytes_used: int


@dataclass(frozen=True)
class ContainerUpdate:
    """A container row as a container server reports it."""

    name: str
    put_timestamp: str
    delete_timestamp: str
    object_count: int
    bytes_used: int
    stats_timestamp: str = ""  # "" means unknown: taken as newest
    storage_policy_index: int = 0  # the container's; travels with the stats

    @property
    def deleted(self) -> bool:
        """Swift's rule: deleted after its last PUT, and empty."""
        return self.delete_timestamp > self.put_timestamp and self.object_count == 0


def merge_container_rows(old: ContainerUpdate | None, new: ContainerUpdate) -> ContainerUpdate:
    """The row to keep (pure): newest timestamps, stats of the newer report."""
    if old is None:
        return new
    if new.stats_timestamp == "" or new.stats_timestamp >= old.stats_timestamp:
        stats = (new.object_count, new.bytes_used, new.stats_timestamp or old.stats_timestamp,
                 new.storage_policy_index)
    else:
        stats = (old.object_count, old.bytes_used, old.stats_timestamp, old.storage_policy_index)
    return ContainerUpdate(
        name=new.name,
        put_timestamp=max(old.put_timestamp, new.put_timestamp),
        delete_timestamp=max(old.delete_timestamp, new.delete_timestamp),
        object_count=stats[0],
        bytes_used=stats[1],
        stats_timestamp=stats[2],
        storage_policy_index=stats[3],
    )


def _newest_timestamp(row: ContainerUpdate) -> str:
    return max(row.put_timestamp, row.delete_timestamp, row.stats_timestamp)


@dataclass(frozen=True)
class AccountInfo:
    account: str
    created_at: str
    put_timestamp: str
    delete_timestamp: str
    status_changed_at: str
    container_count: int
    object_count: int
    bytes_used: int
    metadata: Metadata
    policy_stats: tuple[PolicyStats, ...] = ()

    @property
    def is_deleted(self) -> bool:
        """An account is deleted by a DELETE newer than its last PUT.

        Unlike a container it need not be empty: its containers are reaped
        after the fact, as in Swift.
        """
        return self.delete_timestamp > self.put_timestamp


_ROW_COLUMNS = (
    "name, put_timestamp, delete_timestamp, object_count, bytes_used, stats_timestamp, storage_policy_index"
)


class AccountBroker(DatabaseBroker):
    kind = "account"
    stat_table = "account_stat"
    schema_sql = ACCOUNT_SCHEMA + "".join(f"{statement};\n" for statement in (POLICY_STAT_TABLE, *ROW_TRIGGERS))

    def upgrade_schema(self, conn: sqlite3.Connection) -> None:
        """A file from before policies: the row column, then ``policy_stat``
        filled from the rows, then triggers that keep it too."""
        if "storage_policy_index" not in table_columns(conn, "container"):
            conn.execute("ALTER TABLE container ADD COLUMN storage_policy_index INTEGER NOT NULL DEFAULT 0")
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'policy_stat'")
        if exists.fetchone():
            return
        conn.execute(POLICY_STAT_TABLE)
        conn.execute(FILL_POLICY_STAT)
        conn.execute("DROP TRIGGER IF EXISTS container_insert")
        conn.execute("DROP TRIGGER IF EXISTS container_delete")
        for trigger in ROW_TRIGGERS:
            conn.execute(trigger)

    def create(self, tmp_dir: Path, account: str, put_timestamp: str, metadata: Metadata) -> bool:
        return self.initialize(tmp_dir, put_timestamp, metadata, account=account)

    def get_info(self) -> AccountInfo:
        with self.connect() as conn:
            row = self._stat_row(
                conn,
                "account, created_at, put_timestamp, delete_timestamp, status_changed_at, "
                "container_count, object_count, bytes_used, metadata",
            )
            policy_rows = conn.execute(
                "SELECT storage_policy_index, container_count, object_count, bytes_used "
                "FROM policy_stat ORDER BY storage_policy_index"
            ).fetchall()
        account, created_at, put_ts, delete_ts, changed_at, containers, objects, bytes_used, metadata = row
        return AccountInfo(
            account, created_at, put_ts, delete_ts, changed_at, containers, objects, bytes_used,
            decode_metadata(metadata), tuple(PolicyStats(*r) for r in policy_rows),
        )

    def merge_containers(self, items: Iterable[ContainerUpdate]) -> bool:
        """Apply container rows field by field; True if any row changed."""
        incoming: dict[str, ContainerUpdate] = {}
        for item in items:
            incoming[item.name] = merge_container_rows(incoming.get(item.name), item)
        names = list(incoming)
        changed = False
        with self.transaction() as conn:
            cutoff = reclaim_cutoff(conn)
            for start in range(0, len(names), NAME_BATCH):
                batch = names[start : start + NAME_BATCH]
                marks = ",".join("?" * len(batch))
                existing = {
                    row[0]: ContainerUpdate(*row)
                    for row in conn.execute(
                        f"SELECT {_ROW_COLUMNS} FROM container "
                        f"WHERE deleted IN (0, 1) AND name IN ({marks})",
                        batch,
                    )
                }
                for name in batch:
                    old = existing.get(name)
                    if old is None and maybe_reclaimed(_newest_timestamp(incoming[name]), cutoff):
                        continue  # perhaps the past of a container row reclaimed here
                    row = merge_container_rows(old, incoming[name])
                    if row == old:
                        continue
                    changed = True
                    if old is not None:
                        conn.execute("DELETE FROM container WHERE deleted IN (0, 1) AND name = ?", (name,))
                    conn.execute(
                        f"INSERT INTO container ({_ROW_COLUMNS}, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            row.name,
                            row.put_timestamp,
                            row.delete_timestamp,
                            row.object_count,
                            row.bytes_used,
                            row.stats_timestamp,
                            row.storage_policy_index,
                            int(row.deleted),
                        ),
                    )
        return changed

    def _reclaim_rows(self, conn: sqlite3.Connection, cutoff: str) -> int:
        # A deleted row goes once all three of its timestamps are old (a
        # stats report may come after the delete).
        return conn.execute(
            "DELETE FROM container WHERE deleted = 1 AND delete_timestamp < ? "
            "AND put_timestamp < ? AND stats_timestamp < ?",
            (cutoff, cutoff, cutoff),
        ).rowcount

    def get_container_row(self, name: str) -> ContainerUpdate | None:
        with self.connect() as conn:
            row = conn.execute(
                f"SELECT {_ROW_COLUMNS} FROM container WHERE deleted IN (0, 1) AND name = ?",
                (name,),
            ).fetchone()
        return ContainerUpdate(*row) if row else None

    def fetch_rows(self, conn: sqlite3.Connection, query: RowQuery) -> Iterator[ContainerRecord]:
        sql, args = container_range_sql(query)
        for row in conn.execute(sql, args):
            yield ContainerRecord(*row)

    def list_containers(self, query: RowQuery) -> list[ContainerRecord]:
        """One range scan of live rows on ``ix_container_deleted_name``."""
        with self.connect() as conn:
            return list(self.fetch_rows(conn, query))


def container_range_sql(query: RowQuery) -> tuple[str, list[object]]:
    return range_sql("container", "name, object_count, bytes_used, put_timestamp, storage_policy_index", query)


__all__ = [
    "AccountBroker",
    "AccountInfo",
    "ContainerUpdate",
    "PolicyStats",
    "ZERO_TIMESTAMP",
    "container_range_sql",
    "merge_container_rows",
]
