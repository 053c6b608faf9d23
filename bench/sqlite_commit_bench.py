"""What a one-row SQLite commit costs with a connection per operation, and
with one kept open (the reason for storage/db/connections.py).

    .venv/bin/python bench/sqlite_commit_bench.py [--dir DIR] [--commits N]

A WAL database of 3,000 rows with ``synchronous=FULL`` (as the container
server's); N one-row ``BEGIN IMMEDIATE`` transactions three ways: a new
connection each (the last close checkpoints and deletes the -wal), a new
connection each while another holds the file open (no checkpoint on close),
and one connection kept open. Prints the process's user and system CPU and
the wall time per commit. DIR should be on the cluster's filesystem.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROWS = 3000


def build(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE object (name TEXT PRIMARY KEY, created_at TEXT, size INT, etag TEXT)")
    conn.executemany("INSERT INTO object VALUES (?, '1', 4096, ?)", ((f"o{i:06d}", "e" * 32) for i in range(ROWS)))
    conn.close()


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def commit_one(conn: sqlite3.Connection, i: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT OR REPLACE INTO object VALUES (?, ?, 4096, ?)", (f"o{i % ROWS:06d}", str(time.time()), "f" * 32))
    conn.execute("COMMIT")


def timed(label: str, commits: int, run: Callable[[], None]) -> str:
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    run()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    per = 1000 / commits
    return (f"{label:<34} {(after.ru_utime - before.ru_utime) * per:>7.3f} "
            f"{(after.ru_stime - before.ru_stime) * per:>7.3f} {wall * per:>7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--commits", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "c.db"
        build(path)
        n = args.commits

        def fresh() -> None:
            for i in range(n):
                conn = connect(path)
                commit_one(conn, i)
                conn.close()

        def held_open() -> None:
            holder = connect(path)
            holder.execute("SELECT 1 FROM object LIMIT 1").fetchall()
            fresh()
            holder.close()

        def kept() -> None:
            conn = connect(path)
            for i in range(n):
                commit_one(conn, i)
            conn.close()

        print(f"{'ms per commit':<34} {'user':>7} {'sys':>7} {'wall':>7}")
        for _ in range(2):
            print(timed("new connection each", n, fresh))
            print(timed("new connection, file held open", n, held_open))
            print(timed("one connection kept", n, kept))


if __name__ == "__main__":
    main()
