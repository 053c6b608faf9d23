"""Storage policies in the databases: a container keeps its policy, an account
keeps per-policy totals, replicas that disagree converge, and files made
before policies are upgraded in place."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from martlet.errors import BadRequest, Conflict
from martlet.policies import POLICY_INDEX_HEADER, StoragePolicy, build_policies
from storage.db import AccountBroker, ContainerBroker, ContainerUpdate
from storage.db.container import CONTAINER_SCHEMA, ContainerInfo, PolicyState, peer_policy_wins
from storage.db.headers import account_headers, container_headers, container_policy_from_headers
from storage.db_sync import merge_info, read_info
from storage.listing import ContainerRecord, render_listing

T1, T2, T3, T4 = (f"170000000{i}.00000" for i in range(1, 5))
ZERO = "0000000000.00000"
POLICIES = build_policies([StoragePolicy(0, ("gold",), is_default=True), StoragePolicy(1, ("silver",)),
                           StoragePolicy(2, ("old",), is_deprecated=True)])


def container(tmp_path: Path, policy: int = 0, name: str = "c.db") -> ContainerBroker:
    broker = ContainerBroker(tmp_path / "dev" / "containers" / name, fsync=False)
    assert broker.create(tmp_path / "dev" / "tmp", "a", "c", T1, {}, None, policy)
    return broker


# -- the container's policy ----------------------------------------------------


def test_a_live_container_keeps_its_policy(tmp_path: Path) -> None:
    broker = container(tmp_path, policy=1)
    assert broker.get_info().storage_policy_index == 1
    broker.put_container(T2, {}, None)  # no policy named: nothing to check
    broker.put_container(T2, {}, None, requested_policy=1, new_policy=1)
    with pytest.raises(Conflict) as info:
        broker.put_container(T3, {}, None, requested_policy=0, new_policy=0)
    assert info.value.headers == {POLICY_INDEX_HEADER: "1"}
    info_after = broker.get_info()
    assert (info_after.storage_policy_index, info_after.put_timestamp) == (1, T2), "refused whole"


def test_a_revived_container_takes_the_new_policy(tmp_path: Path) -> None:
    broker = container(tmp_path, policy=1)
    broker.mark_deleted(T2)
    assert broker.get_info().is_deleted
    broker.put_container(T1, {}, None, requested_policy=0, new_policy=0)  # older than the delete
    assert broker.get_info().storage_policy_index == 1
    broker.put_container(T3, {}, None, requested_policy=None, new_policy=0)
    info = broker.get_info()
    assert (info.is_deleted, info.storage_policy_index) == (False, 0)


def test_container_headers_name_the_policy() -> None:
    def headers(policy: int) -> dict[str, str]:
        info = ContainerInfo("a", "c", T1, T1, ZERO, T1, 0, 0, T1, (T1, ZERO, 0, 0), None, {}, policy)
        return container_headers(info, POLICIES)

    assert headers(1)[POLICY_INDEX_HEADER] == "1" and headers(1)["X-Storage-Policy"] == "silver"
    assert headers(9)[POLICY_INDEX_HEADER] == "9" and "X-Storage-Policy" not in headers(9)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({}, (None, 0)),
        ({"X-Backend-Storage-Policy-Default": "1"}, (None, 1)),
        ({"X-Backend-Storage-Policy-Index": "1", "X-Backend-Storage-Policy-Default": "0"}, (1, 1)),
    ],
)
def test_container_put_policy_headers(sent: dict[str, str], expected: tuple[int | None, int]) -> None:
    assert container_policy_from_headers(sent, POLICIES) == expected


@pytest.mark.parametrize("sent", [{"X-Backend-Storage-Policy-Index": "7"},
                                  {"X-Backend-Storage-Policy-Index": "one"},
                                  {"X-Backend-Storage-Policy-Default": "7"}])
def test_container_put_refuses_an_unknown_index(sent: dict[str, str]) -> None:
    with pytest.raises(BadRequest):
        container_policy_from_headers(sent, POLICIES)


# -- replicas that disagree ------------------------------------------------------


def state(index: int, put: str, delete: str = ZERO, objects: int = 0, changed: str | None = None) -> PolicyState:
    return PolicyState(index, put, delete, objects, changed or max(put, delete))


@pytest.mark.parametrize(
    ("mine", "theirs", "wins"),
    [
        (state(0, T1), state(0, T2), False),  # same policy: nothing to do
        (state(0, T2), state(1, T1), True),  # both first lives: the older creation wins
        (state(0, T1), state(1, T2), False),
        (state(0, T1, T2), state(1, T3), True),  # a deleted replica yields to a live one
        (state(0, T3), state(1, T1, T2), False),
        (state(0, T1, T2), state(1, T1, T3), True),  # both deleted: the latest status change
        (state(0, T4, T2), state(1, T1), False),  # a recreated container beats a first life
        (state(0, T1), state(1, T4, T2), True),
        (state(0, T3, T2), state(1, T4, T2), True),  # both recreated: the latest one
        (state(1, T1), state(0, T1), True),  # a tie goes to the lower index...
        (state(0, T1), state(1, T1), False),  # ...from either side
    ],
)
def test_peer_policy_wins(mine: PolicyState, theirs: PolicyState, wins: bool) -> None:
    assert peer_policy_wins(mine, theirs) is wins


def test_replication_carries_and_settles_the_policy(tmp_path: Path) -> None:
    early = container(tmp_path, policy=1, name="early.db")  # created at T1
    late = ContainerBroker(tmp_path / "dev" / "containers" / "late.db", fsync=False)
    assert late.create(tmp_path / "dev" / "tmp", "a", "c", T2, {}, None, 0)
    info = read_info(early)
    assert (info.storage_policy_index, info.status_changed_at) == (1, T1)
    merge_info(late, info)
    assert late.get_info().storage_policy_index == 1
    merge_info(early, read_info(late))
    assert early.get_info().storage_policy_index == 1


# -- the account's per-policy totals ------------------------------------------------


def account(tmp_path: Path) -> AccountBroker:
    broker = AccountBroker(tmp_path / "dev" / "accounts" / "a.db", fsync=False)
    assert broker.create(tmp_path / "dev" / "tmp", "a", T1, {})
    return broker


def test_account_totals_per_policy(tmp_path: Path) -> None:
    broker = account(tmp_path)
    broker.merge_containers([
        ContainerUpdate("c0", T1, ZERO, 2, 20, T1, 0),
        ContainerUpdate("c1", T1, ZERO, 3, 30, T1, 1),
        ContainerUpdate("c2", T1, ZERO, 4, 40, T1, 1),
    ])
    info = broker.get_info()
    assert (info.container_count, info.object_count, info.bytes_used) == (3, 9, 90)
    assert [(s.index, s.container_count, s.object_count, s.bytes_used) for s in info.policy_stats] == [
        (0, 1, 2, 20), (1, 2, 7, 70)]
    # A newer report moves a container's stats (and policy) as one.
    broker.merge_containers([ContainerUpdate("c2", T1, ZERO, 1, 5, T2, 0)])
    broker.merge_containers([ContainerUpdate("c1", T1, T3, 0, 0, T3, 1)])  # deleted
    stats = {s.index: (s.container_count, s.object_count, s.bytes_used) for s in broker.get_info().policy_stats}
    assert stats == {0: (2, 3, 25), 1: (0, 0, 0)}
    headers = account_headers(broker.get_info(), POLICIES)
    assert headers["X-Account-Storage-Policy-gold-Container-Count"] == "2"
    assert headers["X-Account-Storage-Policy-gold-Object-Count"] == "3"
    assert headers["X-Account-Storage-Policy-gold-Bytes-Used"] == "25"
    assert headers["X-Account-Storage-Policy-silver-Container-Count"] == "0"


def test_account_listing_names_the_policy() -> None:
    entries = [ContainerRecord("c0", 1, 2, T1, 0), ContainerRecord("c1", 3, 4, T1, 1),
               ContainerRecord("c9", 0, 0, T1, 9)]
    names = {p.index: p.name for p in POLICIES}
    listed = json.loads(render_listing(entries, "application/json", "account", "a", names))
    assert [e.get("storage_policy") for e in listed] == ["gold", "silver", None]
    xml = render_listing(entries, "application/xml", "account", "a", names).decode()
    assert "<storage_policy>silver</storage_policy>" in xml and xml.count("<storage_policy>") == 2


# -- files made before policies ------------------------------------------------------

# The account schema before storage policies (no storage_policy_index, no
# policy_stat, triggers that know nothing of either): the on-disk format
# upgrade_schema must take.
OLD_ACCOUNT_SCHEMA = """
CREATE TABLE container (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL, object_count INTEGER NOT NULL, bytes_used INTEGER NOT NULL,
    stats_timestamp TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_container_deleted_name ON container (deleted, name);
CREATE TABLE account_stat (
    account TEXT NOT NULL, created_at TEXT NOT NULL, put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL, status_changed_at TEXT NOT NULL,
    container_count INTEGER NOT NULL DEFAULT 0, object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0, id TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER container_insert AFTER INSERT ON container BEGIN
    UPDATE account_stat SET container_count = container_count + (1 - new.deleted),
        object_count = object_count + new.object_count, bytes_used = bytes_used + new.bytes_used;
END;
CREATE TRIGGER container_delete AFTER DELETE ON container BEGIN
    UPDATE account_stat SET container_count = container_count - (1 - old.deleted),
        object_count = object_count - old.object_count, bytes_used = bytes_used - old.bytes_used;
END;
INSERT INTO account_stat (account, created_at, put_timestamp, delete_timestamp, status_changed_at, id)
    VALUES ('a', '1700000001.00000', '1700000001.00000', '0000000000.00000', '1700000001.00000', 'x');
INSERT INTO container (name, put_timestamp, delete_timestamp, object_count, bytes_used, stats_timestamp, deleted)
    VALUES ('old1', '1700000001.00000', '0000000000.00000', 5, 50, '1700000001.00000', 0),
           ('gone', '1700000001.00000', '1700000002.00000', 0, 0, '1700000002.00000', 1);
"""


def test_an_account_from_before_policies_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old-account.db"
    conn = sqlite3.connect(path)
    conn.executescript(OLD_ACCOUNT_SCHEMA)
    conn.close()
    broker = AccountBroker(path, fsync=False)
    info = broker.get_info()
    assert (info.container_count, info.object_count) == (1, 5)
    assert [(s.index, s.container_count, s.object_count, s.bytes_used) for s in info.policy_stats] == [(0, 1, 5, 50)]
    broker.merge_containers([ContainerUpdate("new1", T2, ZERO, 1, 7, T2, 1),
                             ContainerUpdate("old1", T1, ZERO, 6, 60, T2, 0)])
    stats = {s.index: (s.container_count, s.object_count, s.bytes_used) for s in broker.get_info().policy_stats}
    assert stats == {0: (1, 6, 60), 1: (1, 1, 7)}
    assert broker.get_container_row("old1") == ContainerUpdate("old1", T1, ZERO, 6, 60, T2, 0)


def test_a_container_from_before_policies_is_policy_zero(tmp_path: Path) -> None:
    path = tmp_path / "old-container.db"
    old_schema = CONTAINER_SCHEMA.replace(",\n    storage_policy_index INTEGER NOT NULL DEFAULT 0", "")
    assert old_schema != CONTAINER_SCHEMA
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.execute("INSERT INTO container_stat (account, container, created_at, put_timestamp, delete_timestamp, "
                 "status_changed_at, id) VALUES ('a', 'c', ?, ?, ?, ?, 'x')", (T1, T1, ZERO, T1))
    conn.commit()
    conn.close()
    broker = ContainerBroker(path, fsync=False)
    assert broker.get_info().storage_policy_index == 0
    with pytest.raises(Conflict):
        broker.put_container(T2, {}, None, requested_policy=1, new_policy=1)
    assert read_info(broker).storage_policy_index == 0

