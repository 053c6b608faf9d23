"""The shared half of the container and account databases.

On-disk contract:

- One SQLite file per container (or account) at
  ``<dev>/containers/<part>/<suffix>/<hash>/<hash>.db`` (``accounts/`` for
  accounts), ``<hash>`` being ``martlet.hashing.hash_path`` of the path and
  ``<suffix>`` its last three hex digits: the same layout as objects, so the
  replicator walks both the same way.
- A database is built complete in ``<dev>/tmp/`` (schema, first row of
  stats, metadata of the creating PUT), closed, then *linked* into place. A
  crash leaves at worst a stray file in ``tmp/``; a reader never sees a
  half-made database. ``link`` (not ``rename``) refuses to replace a file
  that a concurrent PUT put there first; the loser drops its copy and
  applies its update to the winner's database instead. With ``fsync`` the
  file, its hash directory and the parent of every directory made for it
  (up to the device root) are fsynced before the PUT is acknowledged.
- Journal mode is WAL (persistent in the file header), so readers never block
  the writer; ``synchronous=FULL`` so an acknowledged update survives a power
  cut. Every write is one ``BEGIN IMMEDIATE`` transaction, taken up front so
  that two writers never deadlock upgrading a read lock.
- A connection is used by one thread only (sqlite3's ``check_same_thread``
  stays on), which is what makes the per-device thread pool safe. Each
  thread keeps its last few connections open between operations, each used
  again only while its path still names the file it opened
  (``storage.db.connections``, which says why and what that changes).
- Metadata is one JSON map ``{key: [value, timestamp]}``; merging keeps the
  newer timestamp per key, so replicas can merge in any order. An empty value
  is a deletion that remembers its timestamp (it is hidden from clients).
- The single stats row keeps ``put_timestamp``, ``delete_timestamp`` and
  ``status_changed_at``: a database is deleted when its delete timestamp is
  newer than its put timestamp and it holds no live rows.
- A file made by an older martlet is brought up to the current schema the
  first time this process opens it (``upgrade_schema``: columns and tables
  added, never removed, in one write transaction), so every other method
  may assume the current schema.
- Deleted rows older than ``reclaim_age`` are removed by the database
  replicator (``reclaim``). The cutoff of the last reclaim that removed
  anything is kept in a one-row ``reclaim_point`` table (made on first
  use, so older files need no migration): a row for a name this database
  does not hold, all of whose timestamps are older than that cutoff, may be
  the ghost of a delete reclaimed here, so merges drop it instead of
  resurrecting the name. Like Swift, this relies on replicas converging
  within ``reclaim_age``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import stat
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from martlet.errors import DeviceUnavailable, NotFound
from martlet.fileutil import fsync_created, fsync_dir, make_dirs
from martlet.hashing import HashSection, hash_path
from martlet.limits import check_meta_totals
from martlet.timestamp import Timestamp
from storage.db.connections import thread_connections
from storage.layout import DeviceLayout
from storage.listing import Entry, ListingParams, Record, RowQuery, build_listing

# Seconds a writer waits for another writer's transaction before giving up.
BUSY_TIMEOUT = 25.0
RECLAIM_TABLE = "reclaim_point"
ZERO_TIMESTAMP = Timestamp(0).internal
# Names per "IN (...)" query: SQLite's default limit on bound parameters
# is 32766; stay well below.
NAME_BATCH = 500

Metadata = dict[str, tuple[str, str]]  # key -> (value, timestamp)


@functools.lru_cache(maxsize=4096)  # bounded: names come from requests
def db_path(
    devices_root: Path,
    device: str,
    kind: str,
    partition: int,
    account: str,
    container: str | None = None,
    *,
    hash_settings: HashSection,
) -> Path:
    """Where the database of an account (or container) lives on a device.
    Remembered: every row update of a container asks again, and the hash
    and the joins were most of a row update's own CPU in a storage node."""
    return db_file(devices_root, device, kind, partition, hash_path(account, container, settings=hash_settings))


def db_file(devices_root: Path, device: str, kind: str, partition: int, name_hash: str) -> Path:
    """Where the database whose path hashes to ``name_hash`` lives (replication
    knows databases by hash only)."""
    folder = DeviceLayout.of(devices_root, device).databases(kind)
    return folder / str(partition) / name_hash[-3:] / name_hash / f"{name_hash}.db"


def merge_metadata(current: Metadata, update: Mapping[str, tuple[str, str]]) -> Metadata:
    """Per key, the value with the newer timestamp wins (pure, order-free)."""
    merged = dict(current)
    for key, (value, timestamp) in update.items():
        old = merged.get(key)
        if old is None or timestamp > old[1]:
            merged[key] = (value, timestamp)
    return merged


def check_metadata_totals(metadata: Metadata) -> None:
    """400 when the user metadata ``metadata`` holds (deletions aside) is
    more than Swift's limits allow in all (``martlet.limits``): checked on
    what a POST would leave, so that many small POSTs cannot add up past
    them."""
    items = []
    for key, (value, _timestamp) in metadata.items():
        prefix, sep, name = key.lower().partition("-meta-")
        if value and sep and prefix in ("x-account", "x-container"):
            items.append((name.encode("utf-8", "surrogateescape"), value.encode("utf-8", "surrogateescape")))
    check_meta_totals(items)


def visible_metadata(metadata: Metadata) -> dict[str, str]:
    """What clients see: deleted (empty) values hidden."""
    return {key: value for key, (value, _ts) in metadata.items() if value != ""}


def decode_metadata(text: str | None) -> Metadata:
    if not text:
        return {}
    raw = json.loads(text)
    return {key: (str(pair[0]), str(pair[1])) for key, pair in raw.items()}


def encode_metadata(metadata: Metadata) -> str:
    return json.dumps({k: [v, ts] for k, (v, ts) in sorted(metadata.items())}, ensure_ascii=False)


class DatabaseBroker:
    """One account or container database file.

    Subclasses give ``kind``, ``stat_table`` and ``schema_sql`` (which must
    create the stat table with the common columns) and the row logic.
    """

    kind = ""
    stat_table = ""
    schema_sql = ""
    # Files this process has already checked or upgraded (``upgrade_schema``).
    _current: ClassVar[set[str]] = set()

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path if isinstance(path, Path) else Path(path)
        self.fsync = fsync

    # -- connections ------------------------------------------------------

    def exists(self) -> bool:
        return self.path.is_file()

    def _open(self, path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
        conn.execute(f"PRAGMA synchronous = {'FULL' if self.fsync else 'OFF'}")
        return conn

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection to the file, for one operation: kept for
        the next one if the operation ends cleanly, else closed."""
        key = str(self.path)
        kept = thread_connections()
        try:
            found = os.stat(key)
        except OSError:
            found = None
        if found is None or not stat.S_ISREG(found.st_mode):
            kept.forget(key)
            raise NotFound(f"{self.kind} not found")
        identity = (found.st_dev, found.st_ino)
        try:
            conn = kept.take(key, identity) or self._open(self.path)
        except sqlite3.OperationalError as exc:  # e.g. the device went away
            raise DeviceUnavailable(f"cannot open {self.kind} database: {exc}") from None
        try:
            if key not in self._current:
                self._upgrade(conn)
                self._current.add(key)
            yield conn
        except BaseException:
            conn.close()
            raise
        kept.keep(key, identity, conn)

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            self.upgrade_schema(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def upgrade_schema(self, conn: sqlite3.Connection) -> None:
        """Inside a write transaction: add what a file made by an older
        martlet lacks (nothing when it is current; checked each time, so two
        processes upgrading at once do it once)."""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- creation ---------------------------------------------------------

    def initialize(
        self,
        tmp_dir: Path,
        put_timestamp: str,
        metadata: Mapping[str, tuple[str, str]] | None = None,
        **stat_values: object,
    ) -> bool:
        """Create the database if it does not exist; True if this call made it.

        ``metadata`` (the creating PUT's) is written in the same transaction,
        so a crash cannot leave a database that lacks it.

        The file is fully built under ``tmp_dir`` (same device, so ``link``
        works) and linked into place, so it appears complete or not at all.
        """
        if self.exists():
            return False
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp_path = tmp_dir / f"{self.kind}-{uuid.uuid4().hex}.db"
        try:
            conn = self._open(tmp_path)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(self.schema_sql)
                columns = {
                    "created_at": Timestamp.now().internal,
                    "put_timestamp": put_timestamp,
                    "delete_timestamp": ZERO_TIMESTAMP,
                    "status_changed_at": put_timestamp,
                    "id": str(uuid.uuid4()),
                    "metadata": encode_metadata(dict(metadata or {})),
                    **stat_values,
                }
                names = ", ".join(columns)
                marks = ", ".join("?" for _ in columns)
                conn.execute("BEGIN")
                conn.execute(
                    f"INSERT INTO {self.stat_table} ({names}) VALUES ({marks})",
                    list(columns.values()),
                )
                conn.execute("COMMIT")
            finally:
                conn.close()  # the last close checkpoints and removes the -wal file
            if self.fsync:
                _fsync_file(tmp_path)
            created = make_dirs(self.path.parent)
            try:
                os.link(tmp_path, self.path)
            except FileExistsError:
                return False  # a concurrent PUT won; our update goes to its file
            if self.fsync:
                # The hash directory, then every directory made for it, up
                # to the device root: the new database survives a power cut.
                fsync_dir(self.path.parent)
                fsync_created(created)
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()

    # -- status and metadata ---------------------------------------------

    def _stat_row(self, conn: sqlite3.Connection, columns: str) -> tuple[Any, ...]:
        row = conn.execute(f"SELECT {columns} FROM {self.stat_table}").fetchone()
        if row is None:  # cannot happen for a file made by initialize()
            raise NotFound(f"{self.kind} database has no stats row")
        return tuple(row)

    def get_metadata(self) -> Metadata:
        with self.connect() as conn:
            return decode_metadata(self._stat_row(conn, "metadata")[0])

    def update_metadata(self, update: Mapping[str, tuple[str, str]], *, check_totals: bool = False) -> None:
        """Merge ``update`` in (newest timestamp wins per key); with
        ``check_totals`` (a client's POST, not replication) 400 and no
        change when the result would exceed the metadata limits."""
        if not update:
            return
        with self.transaction() as conn:
            current = decode_metadata(self._stat_row(conn, "metadata")[0])
            merged = merge_metadata(current, update)
            if check_totals:
                check_metadata_totals(merged)
            if merged != current:
                conn.execute(
                    f"UPDATE {self.stat_table} SET metadata = ?", (encode_metadata(merged),)
                )

    def _apply_put(
        self, conn: sqlite3.Connection, timestamp: str, metadata: Mapping[str, tuple[str, str]]
    ) -> None:
        """Inside a transaction: a PUT's newer put timestamp and its metadata."""
        put_ts, delete_ts, meta_text = self._stat_row(
            conn, "put_timestamp, delete_timestamp, metadata"
        )
        if timestamp > put_ts:
            changed_at = timestamp if put_ts <= delete_ts < timestamp else None  # revived
            conn.execute(
                f"UPDATE {self.stat_table} SET put_timestamp = ?, "
                "status_changed_at = COALESCE(?, status_changed_at)",
                (timestamp, changed_at),
            )
        current = decode_metadata(meta_text)
        merged = merge_metadata(current, metadata)
        if merged != current:
            conn.execute(f"UPDATE {self.stat_table} SET metadata = ?", (encode_metadata(merged),))

    def put(self, timestamp: str, metadata: Mapping[str, tuple[str, str]]) -> None:
        """A PUT of an existing database, as one transaction."""
        with self.transaction() as conn:
            self._apply_put(conn, timestamp, metadata)

    # -- listings ------------------------------------------------------------

    def fetch_rows(self, conn: sqlite3.Connection, query: RowQuery) -> Iterator[Record]:
        """Live rows of one range scan, built as the cursor yields them (a
        listing reads only what it needs); one ``range_sql`` query."""
        raise NotImplementedError

    def list_page(self, params: ListingParams) -> list[Entry]:
        """One listing page, read in one snapshot on one connection."""
        with self.connect() as conn:
            conn.execute("BEGIN")
            try:
                return build_listing(lambda query: self.fetch_rows(conn, query), params)
            finally:
                conn.execute("ROLLBACK")

    # -- reclaim -------------------------------------------------------------

    def _reclaim_rows(self, conn: sqlite3.Connection, cutoff: str) -> int:
        """Inside a transaction: remove deleted rows older than ``cutoff``."""
        raise NotImplementedError

    def reclaim(self, cutoff: str) -> int:
        """Remove deleted rows whose timestamps are all older than ``cutoff``
        (internal form); returns how many. Live rows and the stats row's
        counts are untouched (deleted rows count for nothing)."""
        with self.transaction() as conn:
            removed = self._reclaim_rows(conn, cutoff)
            if removed:
                conn.execute(f"CREATE TABLE IF NOT EXISTS {RECLAIM_TABLE} (cutoff TEXT NOT NULL)")
                previous = reclaim_cutoff(conn)
                conn.execute(f"DELETE FROM {RECLAIM_TABLE}")
                conn.execute(f"INSERT INTO {RECLAIM_TABLE} (cutoff) VALUES (?)", (max(previous, cutoff),))
        return removed

    def mark_deleted(self, timestamp: str) -> None:
        """Record a DELETE (newest wins); rows are reclaimed by replication.
        As Swift's, the metadata is cleared (each key deleted as of the
        DELETE), so a container made again under the name starts without
        the old one's ACLs and metadata."""
        with self.transaction() as conn:
            put_ts, delete_ts, meta_text = self._stat_row(conn, "put_timestamp, delete_timestamp, metadata")
            if timestamp > delete_ts:
                conn.execute(f"UPDATE {self.stat_table} SET delete_timestamp = ?", (timestamp,))
                current = decode_metadata(meta_text)
                cleared = merge_metadata(current, {k: ("", timestamp) for k, (v, _) in current.items() if v})
                if cleared != current:
                    conn.execute(f"UPDATE {self.stat_table} SET metadata = ?", (encode_metadata(cleared),))
                if delete_ts <= put_ts < timestamp:  # alive -> deleted
                    conn.execute(
                        f"UPDATE {self.stat_table} SET status_changed_at = ?", (timestamp,)
                    )


def range_sql(table: str, columns: str, query: RowQuery) -> tuple[str, list[object]]:
    """The SQL of one listing range query over live rows, on the
    ``(deleted, name)`` index both row tables have."""
    conditions = ["deleted = 0"]
    args: list[object] = []
    if query.lower:
        conditions.append("name >= ?" if query.lower_inclusive else "name > ?")
        args.append(query.lower)
    if query.upper is not None:
        conditions.append("name < ?")
        args.append(query.upper)
    order = "DESC" if query.reverse else "ASC"
    args.append(query.limit)
    sql = (
        f"SELECT {columns} FROM {table} WHERE {' AND '.join(conditions)} "
        f"ORDER BY name {order} LIMIT ?"
    )
    return sql, args


def table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def reclaim_cutoff(conn: sqlite3.Connection) -> str:
    """The cutoff of the last reclaim that removed rows here ("" if none)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (RECLAIM_TABLE,)
    ).fetchone()
    if not exists:
        return ""
    row = conn.execute(f"SELECT MAX(cutoff) FROM {RECLAIM_TABLE}").fetchone()
    return str(row[0]) if row and row[0] else ""


def maybe_reclaimed(newest_timestamp: str, cutoff: str) -> bool:
    """Pure: could a row for an absent name, newest timestamp given, be
    the older half of a delete reclaimed at ``cutoff``? (Then it is dropped.)"""
    return bool(cutoff) and newest_timestamp < cutoff


def is_deleted_status(put_timestamp: str, delete_timestamp: str, live_rows: int) -> bool:
    """Deleted: a DELETE newer than the last PUT, and nothing left inside."""
    return delete_timestamp > put_timestamp and live_rows == 0


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
