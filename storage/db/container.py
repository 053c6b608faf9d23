"""The container database: object rows, stats, and where to report them.

Object rows are never updated in place: a newer row for a name deletes the
old one and is inserted afresh, so ROWID only grows and the database
replicator (a later issue) can ship "rows since ROWID n". A DELETE is a row
with ``deleted = 1`` (a tombstone row) kept until replication reclaims it.
Triggers keep ``object_count`` and ``bytes_used`` in the stats row exact in
the same transaction as the row change.

The stats row also remembers the account server(s) this container reports
to (from the creating PUT's ``X-Account-*`` headers) and the stats it last
reported, so a change of stats can be sent later without another PUT.

Storage policy: the stats row holds the container's ``storage_policy_index``
(``martlet.policies``), set when the container is created and kept for its
life; a PUT naming another policy is refused (409) while the container
lives, and only a PUT that revives a deleted container sets a new one, as
in Swift. Replicas that disagree (made apart while a partition was split)
converge by ``peer_policy_wins``. Files made before policies are policy 0.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from martlet.errors import Conflict
from martlet.policies import POLICY_INDEX_HEADER
from martlet.timestamp import Timestamp
from storage.db.broker import (
    NAME_BATCH,
    ZERO_TIMESTAMP,
    DatabaseBroker,
    Metadata,
    decode_metadata,
    is_deleted_status,
    maybe_reclaimed,
    range_sql,
    reclaim_cutoff,
    table_columns,
)
from storage.listing import Entry, ListingParams, ObjectRecord, RowQuery

CONTAINER_SCHEMA = """
-- ctype_timestamp: the newest object POST's timestamp, if later than
-- created_at (the row then carries the content type in force after that
-- POST, and listings date the object by it); '' otherwise. Files made
-- before it gain it on use.
CREATE TABLE object (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    etag TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    ctype_timestamp TEXT NOT NULL DEFAULT ''
);
-- Listings read live names in order, merges look names up: both use this.
CREATE INDEX ix_object_deleted_name ON object (deleted, name);

CREATE TABLE container_stat (
    account TEXT NOT NULL,
    container TEXT NOT NULL,
    created_at TEXT NOT NULL,
    put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL,
    status_changed_at TEXT NOT NULL,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    -- when object_count/bytes_used last changed: orders stats reports
    stats_changed_at TEXT NOT NULL DEFAULT '0000000000.00000',
    reported_put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    reported_delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    reported_object_count INTEGER NOT NULL DEFAULT 0,
    reported_bytes_used INTEGER NOT NULL DEFAULT 0,
    account_target TEXT NOT NULL DEFAULT '',
    id TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '',
    storage_policy_index INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER object_insert AFTER INSERT ON object BEGIN
    UPDATE container_stat SET
        object_count = object_count + (1 - new.deleted),
        bytes_used = bytes_used + (1 - new.deleted) * new.size;
END;
CREATE TRIGGER object_delete AFTER DELETE ON object BEGIN
    UPDATE container_stat SET
        object_count = object_count - (1 - old.deleted),
        bytes_used = bytes_used - (1 - old.deleted) * old.size;
END;
CREATE TRIGGER object_update BEFORE UPDATE ON object BEGIN
    SELECT RAISE(FAIL, 'object rows are replaced, never updated');
END;
"""

@dataclass(frozen=True)
class ObjectUpdate:
    """An object row as the object server (or a replica) sends it."""

    name: str
    created_at: str
    size: int = 0
    content_type: str = ""
    etag: str = ""
    deleted: bool = False
    # An object POST's new content type: the row keeps the data's
    # ``created_at`` (so a POST never makes an older PUT win) and orders
    # after it by this. "" means "set with the data".
    ctype_timestamp: str = ""

    @property
    def order(self) -> tuple[str, str]:
        """Which of two rows for a name wins: data first, content type next."""
        return (self.created_at, max(self.ctype_timestamp, self.created_at))


def row_order(created_at: str, ctype_timestamp: str) -> tuple[str, str]:
    return (created_at, max(ctype_timestamp, created_at))


def ensure_ctype_column(conn: sqlite3.Connection) -> None:
    """Inside a write transaction: give a database made before
    ``ctype_timestamp`` existed that column (once; a schema-only change)."""
    if "ctype_timestamp" not in table_columns(conn, "object"):
        conn.execute("ALTER TABLE object ADD COLUMN ctype_timestamp TEXT NOT NULL DEFAULT ''")


@dataclass(frozen=True)
class PolicyState:
    """What decides between two replicas' storage policies: the index and
    the replica's status (``ContainerInfo`` or a replication peer's info)."""

    index: int
    put_timestamp: str
    delete_timestamp: str
    object_count: int
    status_changed_at: str

    @property
    def deleted(self) -> bool:
        return is_deleted_status(self.put_timestamp, self.delete_timestamp, self.object_count)

    @property
    def recreated(self) -> bool:
        """Deleted once, and put again since."""
        return self.put_timestamp > self.delete_timestamp > ZERO_TIMESTAMP


def peer_policy_wins(mine: PolicyState, theirs: PolicyState) -> bool:
    """Pure: should a replica holding ``mine`` take the peer's policy?

    Swift's reconciler rule, so that replicas made apart agree on one
    policy whichever syncs first: a live container beats a deleted one;
    between deleted ones, or between recreated ones, the newest status
    change wins (the latest life); otherwise (both from the first life) the
    oldest creation wins, since that is where the first acknowledged writes
    went. Ties go to the lower index, so the order is total.
    """
    if mine.index == theirs.index:
        return False
    if mine.deleted != theirs.deleted:
        return mine.deleted
    if not mine.deleted and mine.recreated != theirs.recreated:
        return theirs.recreated
    if mine.status_changed_at == theirs.status_changed_at:
        return theirs.index < mine.index
    if mine.deleted or mine.recreated:
        return theirs.status_changed_at > mine.status_changed_at
    return theirs.status_changed_at < mine.status_changed_at


@dataclass(frozen=True)
class AccountTarget:
    """The account server(s) a container reports its stats to."""

    hosts: tuple[tuple[str, str], ...]  # (ip:port, device) pairs
    partition: int

    def encode(self) -> str:
        return json.dumps({"hosts": [list(h) for h in self.hosts], "partition": self.partition})

    @classmethod
    def decode(cls, text: str) -> AccountTarget | None:
        if not text:
            return None
        raw = json.loads(text)
        return cls(tuple((str(h), str(d)) for h, d in raw["hosts"]), int(raw["partition"]))


@dataclass(frozen=True)
class ContainerInfo:
    account: str
    container: str
    created_at: str
    put_timestamp: str
    delete_timestamp: str
    status_changed_at: str
    object_count: int
    bytes_used: int
    stats_changed_at: str
    reported: tuple[str, str, int, int]  # put, delete, object_count, bytes_used
    account_target: AccountTarget | None
    metadata: Metadata
    storage_policy_index: int = 0

    @property
    def is_deleted(self) -> bool:
        return is_deleted_status(self.put_timestamp, self.delete_timestamp, self.object_count)

    @property
    def policy_state(self) -> PolicyState:
        return PolicyState(self.storage_policy_index, self.put_timestamp, self.delete_timestamp,
                           self.object_count, self.status_changed_at)

    @property
    def report(self) -> tuple[str, str, int, int]:
        """What the account server should hold for this container now."""
        return (self.put_timestamp, self.delete_timestamp, self.object_count, self.bytes_used)

    @property
    def needs_report(self) -> bool:
        return self.account_target is not None and self.report != self.reported


_INFO_COLUMNS = (
    "account, container, created_at, put_timestamp, delete_timestamp, status_changed_at, "
    "object_count, bytes_used, stats_changed_at, reported_put_timestamp, "
    "reported_delete_timestamp, reported_object_count, reported_bytes_used, account_target, "
    "metadata, storage_policy_index"
)


def _newest_per_name(items: Iterable[ObjectUpdate]) -> dict[str, ObjectUpdate]:
    newest: dict[str, ObjectUpdate] = {}
    for item in items:
        old = newest.get(item.name)
        if old is None or item.order > old.order:
            newest[item.name] = item
    return newest


def _next_stats_timestamp(previous: str) -> str:
    """Now, but strictly after ``previous`` even if the clock went back."""
    now, prev = Timestamp.now(), Timestamp.parse(previous)
    if now > prev:
        return now.internal
    return prev.with_offset(prev.offset + 1).internal


class ContainerBroker(DatabaseBroker):
    kind = "container"
    stat_table = "container_stat"
    schema_sql = CONTAINER_SCHEMA

    def upgrade_schema(self, conn: sqlite3.Connection) -> None:
        ensure_ctype_column(conn)
        if "storage_policy_index" not in table_columns(conn, "container_stat"):
            conn.execute("ALTER TABLE container_stat ADD COLUMN storage_policy_index INTEGER NOT NULL DEFAULT 0")

    def create(
        self,
        tmp_dir: Path,
        account: str,
        container: str,
        put_timestamp: str,
        metadata: Metadata,
        target: AccountTarget | None,
        policy: int = 0,
    ) -> bool:
        return self.initialize(
            tmp_dir,
            put_timestamp,
            metadata,
            account=account,
            container=container,
            account_target=target.encode() if target else "",
            storage_policy_index=policy,
        )

    def get_info(self) -> ContainerInfo:
        with self.connect() as conn:
            row = self._stat_row(conn, _INFO_COLUMNS)
        (account, container, created_at, put_ts, delete_ts, changed_at, objects, bytes_used, stats_changed_at,
         reported_put, reported_delete, reported_objects, reported_bytes, target, metadata, policy) = row
        return ContainerInfo(
            account, container, created_at, put_ts, delete_ts, changed_at, objects, bytes_used, stats_changed_at,
            reported=(reported_put, reported_delete, reported_objects, reported_bytes),
            account_target=AccountTarget.decode(target),
            metadata=decode_metadata(metadata),
            storage_policy_index=int(policy),
        )

    def put_container(
        self, timestamp: str, metadata: Metadata, target: AccountTarget | None,
        requested_policy: int | None = None, new_policy: int = 0,
    ) -> None:
        """A PUT of an existing container, as one transaction.

        A live container keeps its policy: a PUT that names another
        (``requested_policy``) is a 409 carrying the one it has. A deleted
        container revived by this PUT takes ``new_policy`` (the requested
        one, or the default).
        """
        with self.transaction() as conn:
            put_ts, delete_ts, objects, policy = self._stat_row(
                conn, "put_timestamp, delete_timestamp, object_count, storage_policy_index"
            )
            if is_deleted_status(put_ts, delete_ts, objects):
                if timestamp > delete_ts:
                    conn.execute("UPDATE container_stat SET storage_policy_index = ?", (new_policy,))
            elif requested_policy is not None and requested_policy != policy:
                raise Conflict("container exists in another storage policy",
                               headers={POLICY_INDEX_HEADER: str(policy)})
            self._apply_put(conn, timestamp, metadata)
            if target is not None:
                conn.execute("UPDATE container_stat SET account_target = ?", (target.encode(),))

    def set_storage_policy(self, policy: int) -> None:
        """Take a peer's policy (replication, ``peer_policy_wins``)."""
        with self.transaction() as conn:
            conn.execute("UPDATE container_stat SET storage_policy_index = ?", (policy,))

    def merge_objects(self, items: Iterable[ObjectUpdate]) -> bool:
        """Apply object rows; the newest timestamp per name wins.

        Replays and out-of-order arrivals are harmless: an update older than
        the stored row changes nothing, and a row for a name not held here
        that is older than this database's reclaim cutoff is dropped (it may
        be what a reclaimed delete superseded). Returns whether any row changed.
        """
        newest = _newest_per_name(items)
        names = list(newest)
        changed = False
        with self.transaction() as conn:
            ensure_ctype_column(conn)
            cutoff = reclaim_cutoff(conn)
            for start in range(0, len(names), NAME_BATCH):
                batch = names[start : start + NAME_BATCH]
                marks = ",".join("?" * len(batch))
                existing = {
                    name: row_order(created_at, ctype_ts)
                    for name, created_at, ctype_ts in conn.execute(
                        "SELECT name, created_at, ctype_timestamp FROM object "
                        f"WHERE deleted IN (0, 1) AND name IN ({marks})",
                        batch,
                    )
                }
                winners = [
                    newest[n]
                    for n in batch
                    if (n in existing and newest[n].order > existing[n])
                    or (n not in existing and not maybe_reclaimed(newest[n].order[1], cutoff))
                ]
                if not winners:
                    continue
                changed = True
                conn.executemany(
                    "DELETE FROM object WHERE deleted IN (0, 1) AND name = ?",
                    [(w.name,) for w in winners if w.name in existing],
                )
                conn.executemany(
                    "INSERT INTO object (name, created_at, size, content_type, etag, deleted, ctype_timestamp) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (w.name, w.created_at, w.size, w.content_type, w.etag, int(w.deleted),
                         w.ctype_timestamp if w.ctype_timestamp > w.created_at else "")
                        for w in winners
                    ],
                )
            if changed:
                (previous,) = self._stat_row(conn, "stats_changed_at")
                conn.execute(
                    "UPDATE container_stat SET stats_changed_at = ?",
                    (_next_stats_timestamp(previous),),
                )
        return changed

    def _reclaim_rows(self, conn: sqlite3.Connection, cutoff: str) -> int:
        ensure_ctype_column(conn)  # older files: before replication reads rows
        return conn.execute(
            "DELETE FROM object WHERE deleted = 1 AND created_at < ? AND ctype_timestamp < ?", (cutoff, cutoff)
        ).rowcount

    def mark_reported(self, report: tuple[str, str, int, int]) -> None:
        """Remember what the account server accepted."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE container_stat SET reported_put_timestamp = ?, "
                "reported_delete_timestamp = ?, reported_object_count = ?, "
                "reported_bytes_used = ?",
                report,
            )

    def list_page(self, params: ListingParams) -> list[Entry]:
        try:
            return super().list_page(params)
        except sqlite3.OperationalError as exc:
            if "ctype_timestamp" not in str(exc):
                raise
        with self.transaction() as conn:
            ensure_ctype_column(conn)  # a file made before the column, never written since
        return super().list_page(params)

    def fetch_rows(self, conn: sqlite3.Connection, query: RowQuery) -> Iterator[ObjectRecord]:
        sql, args = object_range_sql(query)
        for row in conn.execute(sql, args):
            yield ObjectRecord(*row)

    def list_objects(self, query: RowQuery) -> list[ObjectRecord]:
        """One range scan of live rows on ``ix_object_deleted_name``."""
        with self.connect() as conn:
            return list(self.fetch_rows(conn, query))

    def get_object_rows(self, names: Sequence[str]) -> dict[str, tuple[str, int]]:
        """``name -> (created_at, deleted)`` for the given names (tests, replication)."""
        with self.connect() as conn:
            marks = ",".join("?" * len(names))
            rows = conn.execute(
                f"SELECT name, created_at, deleted FROM object "
                f"WHERE deleted IN (0, 1) AND name IN ({marks})",
                list(names),
            ).fetchall()
        return {name: (created_at, deleted) for name, created_at, deleted in rows}


def object_range_sql(query: RowQuery) -> tuple[str, list[object]]:
    """Live rows as listed: dated by their newest change, a PUT's or a POST's."""
    return range_sql("object", "name, max(created_at, ctype_timestamp), size, content_type, etag", query)


__all__ = [
    "AccountTarget",
    "ContainerBroker",
    "ContainerInfo",
    "ObjectUpdate",
    "PolicyState",
    "peer_policy_wins",
    "ZERO_TIMESTAMP",
    "object_range_sql",
]
