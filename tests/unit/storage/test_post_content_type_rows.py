"""An object POST's container row: the data's timestamp, size and etag,
the new content type, ordered after the PUT by the POST's timestamp.
Pure update building, and the broker's ordering on real SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from martlet.swift_path import SwiftPath
from martlet.timestamp import Timestamp
from storage.async_pending import PendingUpdate, pending_path
from storage.db import ContainerBroker, ObjectUpdate
from storage.db.headers import object_update_from_request
from storage.db_sync import merge_rows, rows_since
from storage.listing import ListingParams
from storage.metadata import ObjectMetadata
from storage.container_updates import post_container_updates
from storage.paths import EntityPath
from storage.replication_protocol import SyncRow

T1, T2, T3, T4 = (f"170000000{i}.00000" for i in range(1, 5))
TARGET = {"X-Container-Host": "127.0.0.1:6201", "X-Container-Device": "sdb", "X-Container-Partition": "3"}


def container(tmp_path: Path) -> ContainerBroker:
    broker = ContainerBroker(tmp_path / "dev" / "containers" / "c.db", fsync=False)
    assert broker.create(tmp_path / "dev" / "tmp", "a", "c", T1, {}, None)
    return broker


def put(ts: str, ctype: str = "text/plain", size: int = 3, etag: str = "e1") -> ObjectUpdate:
    return ObjectUpdate("o", ts, size=size, content_type=ctype, etag=etag)


def post(data_ts: str, post_ts: str, ctype: str, size: int = 3, etag: str = "e1") -> ObjectUpdate:
    return ObjectUpdate("o", data_ts, size=size, content_type=ctype, etag=etag, ctype_timestamp=post_ts)


def listed(broker: ContainerBroker) -> tuple[str, int, str]:
    with broker.connect() as conn:
        return conn.execute("SELECT content_type, size, etag FROM object WHERE deleted = 0").fetchone()


def data(ts: str, **sys_meta: str) -> ObjectMetadata:
    return ObjectMetadata(name="/a/c/o", timestamp=Timestamp.parse(ts), etag="e1", content_length=3,
                          content_type="text/plain", sys_meta=sys_meta)


def test_the_post_update_keeps_the_datas_timestamp_and_carries_its_own() -> None:
    path = EntityPath("sda", 1, SwiftPath("a", "c", "o"))
    (record,) = post_container_updates(TARGET, path, data(T1), "image/png", Timestamp.parse(T3))
    assert record.method == "PUT" and record.host == "127.0.0.1:6201" and record.partition == 3
    assert record.headers["X-Timestamp"] == T1
    assert record.headers["X-Content-Type-Timestamp"] == T3
    assert (record.headers["X-Content-Type"], record.headers["X-Size"], record.headers["X-Etag"]) == (
        "image/png", "3", "e1")
    # Its async_pending file is named by the POST's time: it never replaces
    # the PUT's queued update, and a later POST's never replaces it.
    put_record = PendingUpdate("PUT", "h:1", "sdb", 3, "a", "c", "o", {"X-Timestamp": T1})
    assert pending_path(Path("/d"), record) != pending_path(Path("/d"), put_record)
    assert pending_path(Path("/d"), record).name.endswith(T3)
    row = object_update_from_request("PUT", "o", record.headers)
    assert (row.created_at, row.ctype_timestamp, row.content_type) == (T1, T3, "image/png")


def test_a_post_to_an_slo_manifest_keeps_its_large_object_row() -> None:
    path = EntityPath("sda", 1, SwiftPath("a", "c", "o"))
    meta = data(T1, **{"X-Object-Sysmeta-Slo-Etag": "abc", "X-Object-Sysmeta-Slo-Size": "5000000"})
    (record,) = post_container_updates(TARGET, path, meta, "video/mp4;swift_bytes=1", Timestamp.parse(T2))
    assert record.headers["X-Content-Type"] == "video/mp4;swift_bytes=5000000"
    assert record.headers["X-Etag"] == "e1; slo_etag=abc"


def test_no_target_no_update() -> None:
    assert post_container_updates({}, EntityPath("sda", 1, SwiftPath("a", "c", "o")), data(T1), "x/y", Timestamp.parse(T2)) == []


def test_a_post_row_wins_over_its_put_but_never_over_a_newer_put(tmp_path: Path) -> None:
    broker = container(tmp_path)
    broker.merge_objects([put(T1)])
    assert broker.merge_objects([post(T1, T3, "image/png")])
    assert listed(broker) == ("image/png", 3, "e1")
    assert not broker.merge_objects([put(T1)]), "the PUT's replay changes nothing"
    assert not broker.merge_objects([post(T1, T2, "image/gif")]), "nor an older POST's"
    # A newer PUT (T2) beats a POST made later (T3) on a replica that still
    # had the older data: the POST row carries the old data's timestamp.
    broker.merge_objects([put(T2, "text/csv", 9, "e2")])
    assert not broker.merge_objects([post(T1, T4, "image/jpeg")])
    assert listed(broker) == ("text/csv", 9, "e2")
    assert broker.get_info().bytes_used == 9


def test_a_post_row_that_arrives_first_is_the_row(tmp_path: Path) -> None:
    broker = container(tmp_path)
    assert broker.merge_objects([post(T1, T3, "image/png")])
    assert not broker.merge_objects([put(T1)])
    assert listed(broker) == ("image/png", 3, "e1") and broker.get_info().object_count == 1
    assert broker.merge_objects([ObjectUpdate("o", T4, deleted=True)])
    assert broker.get_info().object_count == 0


def test_replication_carries_the_content_type_timestamp(tmp_path: Path) -> None:
    source, target = container(tmp_path / "s"), container(tmp_path / "t")
    source.merge_objects([put(T1), post(T1, T3, "image/png")])
    target.merge_objects([put(T1)])
    merge_rows(target, rows_since(source, -1, 100), "source-id", 10)
    assert listed(target) == ("image/png", 3, "e1")
    # An old peer's 7-column row (no content-type timestamp) is a PUT row.
    merge_rows(target, [SyncRow.from_wire("container", [1, "o", T1, 3, "text/plain", "e1", 0])], "old-peer", 1)
    assert listed(target) == ("image/png", 3, "e1")


def test_a_database_made_before_the_column_gains_it(tmp_path: Path) -> None:
    broker = container(tmp_path)
    conn = sqlite3.connect(broker.path)
    conn.execute("ALTER TABLE object DROP COLUMN ctype_timestamp")
    conn.close()
    broker.merge_objects([put(T1), post(T1, T2, "image/png")])
    assert listed(broker) == ("image/png", 3, "e1")
    other = container(tmp_path / "old")
    conn = sqlite3.connect(other.path)
    conn.execute("ALTER TABLE object DROP COLUMN ctype_timestamp")
    conn.close()
    assert other.reclaim(T1) == 0  # the replicator's first step upgrades it
    assert rows_since(other, -1, 10) == []


def test_a_listing_dates_a_row_by_its_newest_post(tmp_path: Path) -> None:
    """Swift's listing shows the newest POST's time as last_modified."""
    broker = container(tmp_path)
    broker.merge_objects([put(T1)])
    assert [r.created_at for r in broker.list_page(ListingParams())] == [T1]
    broker.merge_objects([post(T1, T3, "image/png")])
    assert [r.created_at for r in broker.list_page(ListingParams())] == [T3]
    broker.merge_objects([put(T4)])
    assert [r.created_at for r in broker.list_page(ListingParams())] == [T4]
    # A file made before the column lists too (and gains it).
    old = container(tmp_path / "old")
    old.merge_objects([put(T1)])
    conn = sqlite3.connect(old.path)
    conn.execute("ALTER TABLE object DROP COLUMN ctype_timestamp")
    conn.close()
    assert [r.created_at for r in old.list_page(ListingParams())] == [T1]
