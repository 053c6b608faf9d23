"""Container (and account) updates that could not be sent: ``async_pending/``.

When a write's row update to the container server fails, the write still
succeeds and the update is queued here; the updater (``replicator/updater.py``)
replays the queue until each update lands. Record format, one msgpack map per
file::

    {"v": 1, "method": "PUT"|"DELETE", "host": "ip:port", "device": str,
     "partition": int, "account": str, "container": str, "obj": str | None,
     "headers": {str: str}, "policy": int}

at ``<devices>/<dev>/async_pending/<suffix>/<hash>-<timestamp>`` where hash is
the md5 hex of the target path (``martlet.hashing.hash_path``), suffix its last
three hex digits, and timestamp the update's ``X-Timestamp`` (internal form).
``policy`` is the storage policy of the object whose update it is (0 for
account updates); policy N's records live in ``async_pending-N/``, as in
Swift. A record without ``policy`` (written before policies) is policy 0.
Files are written atomically (tmp + fsync + rename), so a reader never sees a
half record. Replaying a record is a backend request (``WholeAnswerClient``):
``method`` to ``backend_path(device, partition, account, container, obj)`` on
host, with ``headers``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgpack

from martlet.backend import backend_path
from martlet.backend_client import WholeAnswerClient
from martlet.fileutil import atomic_write, fsync_dir, full_device_is_507, make_dirs_durable
from martlet.hashing import HashSection, hash_path
from martlet.timestamp import Timestamp
from storage.devices import policy_dirs
from storage.layout import ASYNC_PENDING, DeviceLayout

log = logging.getLogger(__name__)

RECORD_VERSION = 1


@dataclass(frozen=True)
class PendingUpdate:
    """One row update to send to a container (or account) server."""

    method: str
    host: str  # "ip:port"
    device: str
    partition: int
    account: str
    container: str
    obj: str | None
    headers: Mapping[str, str] = field(default_factory=dict)
    policy: int = 0  # names the directory: async_pending-N/

    @property
    def timestamp(self) -> Timestamp:
        """The update's newest timestamp (names its file): an object POST's
        update carries the data's X-Timestamp and its own
        X-Content-Type-Timestamp, and must not replace the PUT's record."""
        stamps = [self.headers.get(h) for h in ("X-Timestamp", "X-Content-Type-Timestamp")]
        return max(Timestamp.parse(v) for v in (*filter(None, stamps), "0"))

    @property
    def ip_port(self) -> tuple[str, int]:
        ip, _, port = self.host.rpartition(":")
        return ip.strip("[]"), int(port)

    @property
    def path(self) -> str:
        return backend_path(self.device, self.partition, self.account, self.container, self.obj)

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": RECORD_VERSION,
            "method": self.method,
            "host": self.host,
            "device": self.device,
            "partition": self.partition,
            "account": self.account,
            "container": self.container,
            "obj": self.obj,
            "headers": dict(self.headers),
            "policy": self.policy,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PendingUpdate:
        """Raises ValueError for anything that is not a version-1 record."""
        if not isinstance(data, dict) or data.get("v") != RECORD_VERSION:
            raise ValueError("not a version 1 async_pending record")
        try:
            record = cls(
                method=str(data["method"]),
                host=str(data["host"]),
                device=str(data["device"]),
                partition=int(data["partition"]),
                account=str(data["account"]),
                container=str(data["container"]),
                obj=None if data["obj"] is None else str(data["obj"]),
                headers={str(k): str(v) for k, v in dict(data["headers"]).items()},
                policy=int(data.get("policy", 0)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed async_pending record: {exc}") from None
        if record.method not in ("PUT", "DELETE"):
            raise ValueError(f"unexpected method {record.method!r}")
        return record


class Runner(Protocol):
    """What ``send_or_queue`` needs of ``storage.devices.DeviceIO``."""

    async def run(self, device: str, fn: Any, *args: Any) -> Any: ...


def pending_path(
    device_path: Path, record: PendingUpdate, settings: HashSection = HashSection()
) -> Path:
    digest = hash_path(record.account, record.container, record.obj, settings=settings)
    name = f"{digest}-{record.timestamp.internal}"
    return DeviceLayout.at(device_path).async_pending(record.policy) / digest[-3:] / name


def write_pending(
    device_path: Path,
    record: PendingUpdate,
    settings: HashSection = HashSection(),
    fsync: bool = True,
) -> Path:
    """Blocking: queue ``record`` atomically; returns the file's path."""
    target = pending_path(device_path, record, settings)
    payload = msgpack.packb(record.to_dict(), use_bin_type=True)
    with full_device_is_507():
        make_dirs_durable(target.parent, fsync)  # a queued update outlives a power cut too
        atomic_write(target, payload, tmp_dir=DeviceLayout.at(device_path).tmp(record.policy), fsync=fsync)
    return target


def iter_pending(device_path: Path) -> Iterator[tuple[Path, PendingUpdate]]:
    """Blocking: every readable record of the device, every storage
    policy's directory in turn, oldest suffix first.

    An unreadable or malformed file is logged and skipped, never fatal: the
    updater must get past it to the good ones.
    """
    for _policy, root in policy_dirs(device_path, ASYNC_PENDING):
        yield from _iter_records(root)


def _iter_records(root: Path) -> Iterator[tuple[Path, PendingUpdate]]:
    try:
        suffixes = sorted(os.listdir(root))
    except FileNotFoundError:
        return
    for suffix in suffixes:
        suffix_dir = root / suffix
        try:
            names = sorted(os.listdir(suffix_dir))
        except (NotADirectoryError, FileNotFoundError):
            continue
        for name in names:
            path = suffix_dir / name
            try:
                with open(path, "rb") as handle:
                    record = PendingUpdate.from_dict(msgpack.unpackb(handle.read(), raw=False))
            except FileNotFoundError:
                continue  # another updater got there first
            except (OSError, ValueError, msgpack.UnpackException) as exc:
                log.warning("skipping unreadable async_pending file", extra={"file": str(path), "error": str(exc)})
                continue
            yield path, record


def remove_pending(path: Path, fsync: bool = False) -> None:
    """Blocking: drop a record that has been delivered; its empty suffix dir too."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    try:
        os.rmdir(path.parent)
    except OSError:
        pass  # not empty: other records still wait there
    if fsync:
        fsync_dir(path.parent.parent)


async def send_record(client: WholeAnswerClient, record: PendingUpdate) -> tuple[int, Mapping[str, str]]:
    """Send one update as it stands; its status and headers. Connection
    errors and timeouts propagate (the caller decides what they mean)."""
    ip, port = record.ip_port
    answer = await client.request(ip, port, record.method, record.path, headers=record.headers)
    return answer.status, answer.headers


async def send_update(client: WholeAnswerClient, record: PendingUpdate) -> bool:
    """Send one update; True when the server answered 2xx."""
    try:
        status, _headers = await send_record(client, record)
    except OSError as exc:
        log.info("update failed", extra={"host": record.host, "path": record.path, "error": repr(exc)})
        return False
    return 200 <= status < 300


async def send_or_queue(
    client: WholeAnswerClient,
    record: PendingUpdate,
    device_path: Path,
    io: Runner,
    settings: HashSection = HashSection(),
    fsync: bool = True,
    deliver: Callable[[PendingUpdate], Awaitable[bool]] | None = None,
) -> bool:
    """Send ``record`` (over HTTP, or by ``deliver`` when given: this
    node's own container server in process); on any failure or non-2xx,
    queue it. True if sent."""
    if await (deliver(record) if deliver is not None else send_update(client, record)):
        return True
    path = await io.run(device_path.name, write_pending, device_path, record, settings, fsync)
    log.info("update queued", extra={"file": str(path), "host": record.host})
    return False
