"""SQLite connections kept open between operations, per thread.

A WAL database whose last connection closes is checkpointed and its
``-wal`` file deleted; the next connection creates the ``-wal`` again
(with a directory fsync). Opening a connection for each operation made
every container update pay for that: five syncs and about 120 system calls
for a one-row transaction, against one WAL sync on a connection kept open
(0.55 against 0.1 ms of CPU measured here).

So each thread keeps its last few connections, keyed by the database's
path and identified by the (device, inode) of the file they opened:

* a kept connection is used again only while the path still names that
  same file. A database removed (``remove_db``) or made again at the same
  path is a different inode, and the inode cannot be reused while the kept
  connection holds it open, so the comparison is exact;
* a connection is kept only after an operation that ended cleanly with no
  transaction open; one that raised is closed;
* at most ``KEPT_PER_THREAD`` per thread; one unused for ``IDLE_SECONDS``
  is closed when its thread next opens a database, and a device thread
  given no work for ``storage.devices.IDLE_SECONDS`` closes all it keeps
  (``close_thread_connections``, the pools' ``on_idle``), so a quiet or
  failed device holds no descriptors of its files.

Durability does not change: a commit with ``synchronous=FULL`` fsyncs the
WAL before it returns, as before; what the WAL holds is checkpointed into
the ``.db`` file when it grows (SQLite's automatic checkpoint) or when the
last connection closes, and replayed by the next open after a crash.
Nothing in martlet copies a ``.db`` file without its ``-wal``: replication
sends rows.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

KEPT_PER_THREAD = 8
IDLE_SECONDS = 30.0

# (st_dev, st_ino) of a database file
FileIdentity = tuple[int, int]


@dataclass
class _Kept:
    conn: sqlite3.Connection
    identity: FileIdentity
    used: float


class ThreadConnections:
    """The connections one thread keeps, least recently used first."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    def take(self, path: str, identity: FileIdentity) -> sqlite3.Connection | None:
        """The kept connection to ``path`` if it opened the file that
        ``identity`` names; it is no longer kept until ``keep``."""
        self._close_idle(time.monotonic())
        kept = self._kept.pop(path, None)
        if kept is None:
            return None
        if kept.identity != identity:
            kept.conn.close()
            return None
        return kept.conn

    def keep(self, path: str, identity: FileIdentity, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.close()  # a caller's bug; never hand a half-done transaction on
            return
        old = self._kept.pop(path, None)
        if old is not None:
            old.conn.close()
        self._kept[path] = _Kept(conn, identity, time.monotonic())
        while len(self._kept) > KEPT_PER_THREAD:
            self._kept.popitem(last=False)[1].conn.close()

    def forget(self, path: str) -> None:
        """Close the kept connection to ``path`` (its file is gone)."""
        kept = self._kept.pop(path, None)
        if kept is not None:
            kept.conn.close()

    def close_all(self) -> None:
        while self._kept:
            self._kept.popitem()[1].conn.close()

    def _close_idle(self, now: float) -> None:
        while self._kept:
            kept = next(iter(self._kept.values()))
            if now - kept.used < IDLE_SECONDS:
                break
            self._kept.popitem(last=False)
            kept.conn.close()


_local = threading.local()


def close_thread_connections() -> None:
    """Close every connection this thread keeps (an idle or ending thread)."""
    connections = getattr(_local, "connections", None)
    if connections is not None:
        connections.close_all()


def thread_connections() -> ThreadConnections:
    """This thread's kept connections (made on first use)."""
    try:
        return _local.connections
    except AttributeError:
        _local.connections = ThreadConnections()
        return _local.connections

