"""Reclaim of deleted rows and deleted databases, on real SQLite files:
what goes, what stays, and that a reclaimed name cannot come back."""

from __future__ import annotations

from pathlib import Path

from replicator.db_replicator import is_reclaimable, reclaim_db
from storage.db import AccountBroker, ContainerBroker, ContainerUpdate, ObjectUpdate
from storage.db_sync import read_info
from storage.listing import RowQuery

OLD1, OLD2, OLD3 = "1600000001.00000", "1600000002.00000", "1600000003.00000"
CUTOFF = "1650000000.00000"
NEW1, NEW2 = "1700000001.00000", "1700000002.00000"


def container(tmp_path: Path) -> ContainerBroker:
    broker = ContainerBroker(tmp_path / "dev" / "containers" / "c.db", fsync=False)
    assert broker.create(tmp_path / "dev" / "tmp", "a", "c", OLD1, {}, None)
    return broker


def account(tmp_path: Path) -> AccountBroker:
    broker = AccountBroker(tmp_path / "dev" / "accounts" / "a.db", fsync=False)
    assert broker.create(tmp_path / "dev" / "tmp", "a", OLD1, {})
    return broker


def live(name: str, ts: str, size: int = 5) -> ObjectUpdate:
    return ObjectUpdate(name, ts, size=size, content_type="text/plain", etag="e")


def gone(name: str, ts: str) -> ObjectUpdate:
    return ObjectUpdate(name, ts, deleted=True)


def names(broker: ContainerBroker) -> list[str]:
    return [r.name for r in broker.list_objects(RowQuery("", True, None, False, 100))]


def test_old_deleted_object_rows_go_new_ones_and_live_ones_stay(tmp_path: Path) -> None:
    broker = container(tmp_path)
    broker.merge_objects([live("old-live", OLD1, 7), gone("old-gone", OLD2), gone("new-gone", NEW1), live("new", NEW1, 3)])
    before = broker.get_info()
    assert broker.reclaim(CUTOFF) == 1
    rows = broker.get_object_rows(["old-live", "old-gone", "new-gone", "new"])
    assert set(rows) == {"old-live", "new-gone", "new"}
    after = broker.get_info()
    assert (after.object_count, after.bytes_used) == (before.object_count, before.bytes_used) == (2, 10)
    assert names(broker) == ["new", "old-live"]
    assert broker.reclaim(CUTOFF) == 0, "nothing left to reclaim"


def test_a_reclaimed_name_is_not_resurrected_by_an_older_row(tmp_path: Path) -> None:
    broker = container(tmp_path)
    broker.merge_objects([live("x", OLD1), gone("x", OLD2)])
    assert broker.reclaim(CUTOFF) == 1
    # A peer that never saw the delete (or a late async_pending replay)
    # sends the PUT the reclaimed delete had superseded: dropped.
    assert not broker.merge_objects([live("x", OLD1)])
    assert not broker.merge_objects([gone("x", OLD2)]), "an old delete is not brought back either"
    assert broker.get_object_rows(["x"]) == {}
    # A write newer than the cutoff is a new life of the name.
    assert broker.merge_objects([live("x", NEW1)])
    assert names(broker) == ["x"] and broker.get_info().object_count == 1


def test_old_rows_are_taken_where_nothing_was_reclaimed(tmp_path: Path) -> None:
    """A replica rebuilt from scratch (or one that never reclaimed) must
    take every old row its peers send."""
    broker = container(tmp_path)
    assert broker.reclaim(CUTOFF) == 0
    assert broker.merge_objects([live("old", OLD1), gone("old-gone", OLD2)])
    assert names(broker) == ["old"]
    assert set(broker.get_object_rows(["old", "old-gone"])) == {"old", "old-gone"}


def test_reclaim_keeps_its_newest_cutoff(tmp_path: Path) -> None:
    broker = container(tmp_path)
    broker.merge_objects([gone("a", OLD1)])
    assert broker.reclaim(CUTOFF) == 1
    broker.merge_objects([gone("b", OLD3)])  # old, but b was never here: dropped
    assert broker.get_object_rows(["b"]) == {}
    broker.merge_objects([gone("c", NEW1)])
    assert broker.reclaim(OLD1) == 0  # an older cutoff reclaims nothing and moves nothing
    assert broker.reclaim("1700000001.50000") == 1
    assert not broker.merge_objects([live("c", "1690000000.00000")]), "below the newer cutoff"


def row(name: str, put: str, delete: str, objects: int = 0, used: int = 0, stats: str = "") -> ContainerUpdate:
    return ContainerUpdate(name, put, delete, objects, used, stats or max(put, delete))


def test_old_deleted_container_rows_go_and_totals_stay(tmp_path: Path) -> None:
    broker = account(tmp_path)
    broker.merge_containers([
        row("kept", OLD1, "0000000000.00000", 3, 30),
        row("old-gone", OLD1, OLD2),
        row("late-stats", OLD1, OLD2, stats=NEW1),  # a report after the delete: not yet
        row("new-gone", OLD1, NEW1),
    ])
    before = broker.get_info()
    assert broker.reclaim(CUTOFF) == 1
    assert broker.get_container_row("old-gone") is None
    assert broker.get_container_row("late-stats") is not None and broker.get_container_row("new-gone") is not None
    after = broker.get_info()
    assert (after.container_count, after.object_count, after.bytes_used) == (
        before.container_count, before.object_count, before.bytes_used) == (1, 3, 30)
    # The deleted container's old report cannot bring it back; a fresh one can.
    assert not broker.merge_containers([row("old-gone", OLD1, "0000000000.00000", 2, 20)])
    assert broker.get_container_row("old-gone") is None
    assert broker.merge_containers([row("old-gone", NEW2, "0000000000.00000", 0, 0)])
    assert broker.get_info().container_count == 2


def test_reclaim_db_removes_long_deleted_empty_databases_only(tmp_path: Path) -> None:
    old_deleted = container(tmp_path / "1")
    old_deleted.merge_objects([gone("x", OLD2)])
    old_deleted.mark_deleted(OLD3)
    assert reclaim_db(old_deleted, CUTOFF) == (1, True)
    assert not old_deleted.path.exists() and not old_deleted.path.parent.exists()

    recent = container(tmp_path / "2")
    recent.mark_deleted(NEW1)
    assert reclaim_db(recent, CUTOFF) == (0, False) and recent.exists()

    not_empty = container(tmp_path / "3")
    not_empty.merge_objects([live("x", OLD2)])
    not_empty.mark_deleted(OLD3)  # a DELETE that a later row outlived
    assert reclaim_db(not_empty, CUTOFF) == (0, False) and not_empty.exists()

    revived = container(tmp_path / "4")
    revived.mark_deleted(OLD2)
    revived.put(OLD3, {})
    assert reclaim_db(revived, CUTOFF) == (0, False) and revived.exists()


def test_an_account_goes_only_once_its_containers_are_gone(tmp_path: Path) -> None:
    broker = account(tmp_path)
    broker.merge_containers([row("c", OLD1, "0000000000.00000", 1, 1)])
    broker.mark_deleted(OLD2)
    assert not is_reclaimable(read_info(broker), CUTOFF)
    broker.merge_containers([row("c", OLD1, OLD3)])  # its container deleted too
    assert reclaim_db(broker, CUTOFF) == (1, True)
    assert not broker.exists()
