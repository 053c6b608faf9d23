"""Connections kept per thread between database operations
(storage.db.connections), against real SQLite files in tmp_path."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from martlet.errors import NotFound
from replicator.db_replicator import remove_db
from storage.db import ContainerBroker, ObjectUpdate
from storage.db import connections
from storage.db_sync import read_info

T1, T2 = "1700000001.00000", "1700000002.00000"


def new_container(tmp_path: Path, put_timestamp: str = T1) -> ContainerBroker:
    broker = ContainerBroker(tmp_path / "dev" / "containers" / "c.db", fsync=False)
    assert broker.create(tmp_path / "dev" / "tmp", "a", "c", put_timestamp, {}, None)
    return broker


def is_closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def put_row(broker: ContainerBroker, name: str) -> None:
    broker.merge_objects([ObjectUpdate(name, T2, 1)])


@pytest.fixture(autouse=True)
def fresh_thread_connections() -> Iterator[None]:
    connections.thread_connections().close_all()
    yield
    connections.thread_connections().close_all()  # none outlives its tmp_path


def test_a_thread_uses_its_connection_again(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    with broker.connect() as first:
        pass
    with ContainerBroker(broker.path, fsync=False).connect() as second:
        assert second is first
    assert not is_closed(first)


def test_a_committed_row_is_seen_by_other_connections(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    put_row(broker, "o1")
    other = sqlite3.connect(broker.path)
    try:
        assert other.execute("SELECT name FROM object").fetchall() == [("o1",)]
    finally:
        other.close()


def test_other_threads_open_their_own(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    with broker.connect() as mine:
        pass
    theirs: list[sqlite3.Connection] = []

    def other_thread() -> None:
        with broker.connect() as conn:
            theirs.append(conn)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert theirs and theirs[0] is not mine


def test_a_database_made_again_at_the_same_path_is_opened_afresh(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    put_row(broker, "old")
    with broker.connect() as old:
        pass
    assert remove_db(broker, read_info(broker).max_row)
    again = new_container(tmp_path, T2)
    with again.connect() as conn:
        assert conn is not old
        assert conn.execute("SELECT name FROM object").fetchall() == []
    assert is_closed(old)
    assert again.get_info().put_timestamp == T2


def test_a_removed_database_is_not_found_and_its_connection_closed(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    with broker.connect() as old:
        pass
    assert remove_db(broker, read_info(broker).max_row)
    with pytest.raises(NotFound):
        broker.get_info()
    assert is_closed(old)


def test_an_operation_that_raises_closes_its_connection(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    with pytest.raises(RuntimeError):
        with broker.transaction() as failed:
            raise RuntimeError("the operation failed")
    assert is_closed(failed)
    with broker.connect() as conn:
        assert conn is not failed
        assert not conn.in_transaction


def test_an_open_transaction_is_never_kept(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    with broker.connect() as left_open:
        left_open.execute("BEGIN IMMEDIATE")
    assert is_closed(left_open)
    put_row(broker, "o1")  # not locked out by the abandoned transaction


def test_the_least_recently_used_beyond_the_bound_is_closed(tmp_path: Path) -> None:
    brokers = [new_container(tmp_path / str(i)) for i in range(connections.KEPT_PER_THREAD + 1)]
    used = []
    for broker in brokers:
        with broker.connect() as conn:
            used.append(conn)
    assert is_closed(used[0])
    assert not any(is_closed(conn) for conn in used[1:])
    # Used again, the oldest opened is the most recent: the next one past the bound closes used[2].
    with brokers[1].connect() as again:
        assert again is used[1]
    with brokers[0].connect():
        pass
    assert is_closed(used[2]) and not is_closed(used[1])


def test_an_idle_connection_is_closed_at_the_next_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = new_container(tmp_path / "1"), new_container(tmp_path / "2")
    with first.connect() as idle:
        pass
    monkeypatch.setattr(connections, "IDLE_SECONDS", 0.0)
    with second.connect():
        pass
    assert is_closed(idle)


def test_removing_a_database_closes_its_kept_connection(tmp_path: Path) -> None:
    broker = new_container(tmp_path)
    with broker.connect() as kept:
        pass
    assert remove_db(broker, read_info(broker).max_row)
    assert is_closed(kept)  # no descriptor left on the unlinked files


def test_a_device_thread_given_no_work_closes_what_it_keeps(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import time

    from storage import devices

    monkeypatch.setattr(devices, "IDLE_SECONDS", 0.05)
    broker = new_container(tmp_path)
    pool = devices.DevicePool(1, "idle", connections.close_thread_connections)  # as StorageContext's

    def use() -> None:
        with broker.connect():
            pass

    def held() -> bool:
        """Whether this process still has the database file open (the
        connection belongs to the pool's thread: it cannot be asked here)."""
        fd_dir = Path("/proc/self/fd")
        return any(os.path.realpath(fd_dir / fd) == str(broker.path.resolve()) for fd in os.listdir(fd_dir))

    async def run_once() -> None:
        await pool.submit(use)

    try:
        asyncio.run(run_once())
        deadline = time.monotonic() + 10  # bounded: the thread wakes every 0.05 s
        while held() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not held()
    finally:
        pool.shutdown()
