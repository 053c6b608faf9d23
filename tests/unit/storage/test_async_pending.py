from pathlib import Path

import msgpack

from martlet.hashing import HashSection, hash_path
from storage.async_pending import PendingUpdate, iter_pending, remove_pending, write_pending

SETTINGS = HashSection("p", "s")


def record(obj: str | None = "o/1", stamp: str = "1700000000.00001") -> PendingUpdate:
    return PendingUpdate(
        method="PUT",
        host="127.0.0.1:6201",
        device="sdb",
        partition=4,
        account="a",
        container="c",
        obj=obj,
        headers={"X-Backend-Type": "container", "X-Timestamp": stamp, "X-Size": "3"},
    )


def test_write_iter_remove(tmp_path: Path) -> None:
    device = tmp_path / "sda"
    device.mkdir()
    path = write_pending(device, record(), SETTINGS, fsync=False)
    digest = hash_path("a", "c", "o/1", settings=SETTINGS)
    assert path == device / "async_pending" / digest[-3:] / f"{digest}-1700000000.00001"
    data = msgpack.unpackb(path.read_bytes())
    assert data == {
        "v": 1, "method": "PUT", "host": "127.0.0.1:6201", "device": "sdb", "partition": 4,
        "account": "a", "container": "c", "obj": "o/1",
        "headers": {"X-Backend-Type": "container", "X-Timestamp": "1700000000.00001", "X-Size": "3"},
        "policy": 0,
    }
    assert list(iter_pending(device)) == [(path, record())]
    assert record().path == "/sdb/4/a/c/o/1"
    remove_pending(path)
    assert list(iter_pending(device)) == []
    assert not path.parent.exists()
    assert list((device / "tmp").iterdir()) == []


def test_unreadable_files_are_skipped(tmp_path: Path) -> None:
    device = tmp_path / "sda"
    good = write_pending(device, record(), SETTINGS, fsync=False)
    bad = good.parent / "ffff-garbage"
    bad.write_bytes(b"\xc1not msgpack")
    wrong = good.parent / "ffff-wrong"
    wrong.write_bytes(msgpack.packb({"v": 1, "method": "GET"}))
    assert [p for p, _ in iter_pending(device)] == [good]


def test_missing_directory_yields_nothing(tmp_path: Path) -> None:
    assert list(iter_pending(tmp_path / "nothing")) == []
