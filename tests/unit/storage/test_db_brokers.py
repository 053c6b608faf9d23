"""Container and account brokers against real SQLite files in tmp_path."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from martlet.errors import NotFound
from martlet.hashing import HashSection, hash_path
from storage.db import (
    AccountBroker,
    AccountTarget,
    ContainerBroker,
    ContainerUpdate,
    ObjectUpdate,
    db_path,
    merge_metadata,
    visible_metadata,
)
from storage.db.account import merge_container_rows

T1, T2, T3, T4 = (f"170000000{i}.00000" for i in range(1, 5))
ZERO = "0000000000.00000"


def new_container(tmp_path: Path, target: AccountTarget | None = None) -> ContainerBroker:
    broker = ContainerBroker(tmp_path / "dev" / "containers" / "c.db", fsync=False)
    assert broker.create(tmp_path / "dev" / "tmp", "a", "c", T1, {}, target)
    return broker


def test_db_path_layout(tmp_path: Path) -> None:
    settings = HashSection(path_prefix="", path_suffix="s")
    path = db_path(tmp_path, "sda", "container", 7, "a", "c", hash_settings=settings)
    name = hash_path("a", "c", settings=settings)
    assert path == tmp_path / "sda" / "containers" / "7" / name[-3:] / name / f"{name}.db"
    acct = db_path(tmp_path, "sda", "account", 7, "a", hash_settings=settings)
    assert acct.parts[-5] == "accounts" and acct.name == hash_path("a", settings=settings) + ".db"


def test_db_path_answers_each_argument_apart(tmp_path: Path) -> None:
    """db_path is remembered: a repeated ask is the same answer, and no
    argument (the cluster's hash settings included) is left out of the key."""
    first = db_path(tmp_path, "sda", "container", 7, "a", "c", hash_settings=HashSection("", "s"))
    assert db_path(tmp_path, "sda", "container", 7, "a", "c", hash_settings=HashSection("", "s")) == first
    others = [
        db_path(tmp_path / "x", "sda", "container", 7, "a", "c", hash_settings=HashSection("", "s")),
        db_path(tmp_path, "sdb", "container", 7, "a", "c", hash_settings=HashSection("", "s")),
        db_path(tmp_path, "sda", "account", 7, "a", "c", hash_settings=HashSection("", "s")),
        db_path(tmp_path, "sda", "container", 8, "a", "c", hash_settings=HashSection("", "s")),
        db_path(tmp_path, "sda", "container", 7, "b", "c", hash_settings=HashSection("", "s")),
        db_path(tmp_path, "sda", "container", 7, "a", "d", hash_settings=HashSection("", "s")),
        db_path(tmp_path, "sda", "container", 7, "a", "c", hash_settings=HashSection("p", "s")),
        db_path(tmp_path, "sda", "container", 7, "a", "c", hash_settings=HashSection("", "t")),
    ]
    assert len({first, *others}) == 1 + len(others)


def test_create_is_atomic_and_wal(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    # Nothing is left behind in tmp/, and the file is complete and in WAL mode.
    assert list((tmp_path / "dev" / "tmp").iterdir()) == []
    conn = sqlite3.connect(broker.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM container_stat").fetchone()[0] == 1
    finally:
        conn.close()
    # A second create does not replace the file.
    again = ContainerBroker(broker.path, fsync=False)
    assert not again.create(tmp_path / "dev" / "tmp", "a", "c", T2, {}, None)
    assert again.get_info().put_timestamp == T1


def test_concurrent_creates_make_one_database(tmp_path: Path) -> None:
    path = tmp_path / "dev" / "containers" / "x.db"
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def create(i: int) -> None:
        barrier.wait(timeout=10)
        broker = ContainerBroker(path, fsync=False)
        results.append(broker.create(tmp_path / "dev" / "tmp", "a", "x", T1, {}, None))
        broker.merge_objects([ObjectUpdate(f"o{i}", T2, 1)])

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [False, False, False, True]
    assert ContainerBroker(path).get_info().object_count == 4


def test_missing_database_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        ContainerBroker(tmp_path / "nope.db").get_info()


def test_newest_object_row_wins_in_any_order(tmp_path: Path) -> None:
    updates = [
        ObjectUpdate("o", T2, 10, "text/plain", "e2"),
        ObjectUpdate("o", T3, deleted=True),
        ObjectUpdate("o", T4, 40, "image/png", "e4"),
    ]
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0, 2, 1]):
        broker = ContainerBroker(tmp_path / f"{order}.db", fsync=False)
        broker.create(tmp_path / "tmp", "a", "c", T1, {}, None)
        for i in order:
            broker.merge_objects([updates[i]])
        info = broker.get_info()
        assert (info.object_count, info.bytes_used) == (1, 40)
        assert broker.get_object_rows(["o"]) == {"o": (T4, 0)}


def test_replay_changes_nothing(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    assert broker.merge_objects([ObjectUpdate("o", T2, 5)])
    stats_at = broker.get_info().stats_changed_at
    assert not broker.merge_objects([ObjectUpdate("o", T2, 5)])
    assert not broker.merge_objects([ObjectUpdate("o", T1, 99)])
    assert broker.get_info().stats_changed_at == stats_at


def test_stats_follow_rows_and_rowid_grows(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    broker.merge_objects(ObjectUpdate(f"o{i}", T2, i) for i in range(10))
    broker.merge_objects([ObjectUpdate("o3", T3, deleted=True), ObjectUpdate("o4", T3, 100)])
    info = broker.get_info()
    assert info.object_count == 9
    assert info.bytes_used == sum(range(10)) - 3 - 4 + 100
    conn = sqlite3.connect(broker.path)
    try:
        # Replaced rows get new ROWIDs (the replicator ships rows by ROWID).
        assert conn.execute("SELECT max(ROWID) FROM object").fetchone()[0] == 12
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE object SET size = 1")
    finally:
        conn.close()


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    with pytest.raises(sqlite3.IntegrityError):
        broker.merge_objects([ObjectUpdate("ok", T2, 1), ObjectUpdate("bad", T2, None)])  # type: ignore[arg-type]
    assert broker.get_info().object_count == 0


def test_metadata_newest_wins_per_key(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    broker.update_metadata({"X-Container-Meta-A": ("1", T2), "X-Container-Meta-B": ("b", T2)})
    broker.update_metadata({"X-Container-Meta-A": ("old", T1), "X-Container-Meta-B": ("", T3)})
    meta = broker.get_metadata()
    assert meta == {"X-Container-Meta-A": ("1", T2), "X-Container-Meta-B": ("", T3)}
    assert visible_metadata(meta) == {"X-Container-Meta-A": "1"}
    assert merge_metadata(meta, {"X-Container-Meta-B": ("back", T4)})["X-Container-Meta-B"] == (
        "back",
        T4,
    )


def test_delete_and_recreate_status(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    broker.mark_deleted(T2)
    info = broker.get_info()
    assert info.is_deleted and info.status_changed_at == T2
    broker.put_container(T1, {}, None)  # an older PUT does not revive it
    assert broker.get_info().is_deleted
    broker.put_container(T3, {}, None)
    info = broker.get_info()
    assert not info.is_deleted and info.status_changed_at == T3


def test_account_target_and_reporting(tmp_path: Path) -> None:
    target = AccountTarget((("127.0.0.1:6200", "sda"),), 3)
    broker = new_container(tmp_path, target)
    info = broker.get_info()
    assert info.account_target == target and info.needs_report
    broker.mark_reported(info.report)
    assert not broker.get_info().needs_report
    broker.merge_objects([ObjectUpdate("o", T2, 7)])
    info = broker.get_info()
    assert info.needs_report and info.report[2:] == (1, 7)


def test_account_rows_merge_per_field(tmp_path: Path) -> None:
    broker = AccountBroker(tmp_path / "a.db", fsync=False)
    assert broker.create(tmp_path / "tmp", "a", T1, {})
    broker.merge_containers([ContainerUpdate("c", T2, ZERO, 5, 50, T2)])
    # A stale report (older stats) replayed later keeps the newer numbers.
    broker.merge_containers([ContainerUpdate("c", T2, ZERO, 1, 10, T1)])
    assert broker.get_info().object_count == 5
    broker.merge_containers([ContainerUpdate("c", T1, T3, 0, 0, T3)])
    row = broker.get_container_row("c")
    assert row is not None and (row.put_timestamp, row.delete_timestamp) == (T2, T3)
    info = broker.get_info()
    assert (info.container_count, info.object_count, info.bytes_used) == (0, 0, 0)


def test_merge_container_rows_is_order_free() -> None:
    a = ContainerUpdate("c", T2, ZERO, 5, 50, T2)
    b = ContainerUpdate("c", T1, T3, 0, 0, T3)
    assert merge_container_rows(a, b) == merge_container_rows(b, a)


def test_metadata_totals_count_user_metadata_only() -> None:
    """Swift's validate_metadata: deletions, sysmeta and settings are not counted."""
    from martlet.errors import BadRequest
    from storage.db.broker import check_metadata_totals

    ninety = {f"X-Container-Meta-K{i}": ("v", "t") for i in range(90)}
    check_metadata_totals({**ninety, "X-Container-Meta-Gone": ("", "t"), "X-Container-Sysmeta-S": ("v", "t"),
                           "X-Container-Read": (".r:*", "t")})
    with pytest.raises(BadRequest, match="Too many metadata items; max 90"):
        check_metadata_totals({**ninety, "X-Account-Meta-One": ("v", "t")})
    check_metadata_totals({f"X-Account-Meta-K{i:02d}": ("v" * 253, "t") for i in range(16)})  # 16 x 256 = 4096
    with pytest.raises(BadRequest, match="Total metadata too large; max 4096"):
        check_metadata_totals({f"X-Account-Meta-K{i:02d}": ("v" * 254, "t") for i in range(16)})
