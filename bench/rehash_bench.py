"""What replication's suffix hashing costs per partition, on a real device.

    .venv/bin/python bench/rehash_bench.py <devices root>/<device> [--rounds N]

Marks every suffix of every partition under ``<device>/objects`` dirty (as
writes do), then times ``get_hashes`` over all of them: with fsync, without,
and hashing the suffixes alone (``hash_suffix``, no bookkeeping); then a pass
over the clean partitions, as every replication pass makes. Prints the
thread's user and system CPU and the wall time per partition. Use a stopped
cluster's device (e.g. a `martlet dev` data dir after a bench): it only marks
suffixes dirty and rehashes them, as the replicator would.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.config import StorageSection  # noqa: E402
from storage.diskfile import invalidate_suffix  # noqa: E402
from storage.partition_hashes import SUFFIX_RE, get_hashes, hash_suffix  # noqa: E402

RECLAIM_AGE = float(StorageSection().reclaim_age)  # the daemon's default


def suffixes(part: Path) -> list[str]:
    return [name for name in os.listdir(part) if SUFFIX_RE.match(name)]


def thread_cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime, usage.ru_stime


def timed(label: str, parts: list[Path], run: Callable[[], object], dirty: bool) -> str:
    if dirty:
        for part in parts:
            for suffix in suffixes(part):
                invalidate_suffix(part, suffix)
    os.sync()
    user, system = thread_cpu()
    started = time.perf_counter()
    run()
    wall = time.perf_counter() - started
    user_after, system_after = thread_cpu()
    per = 1000 / len(parts)
    return (f"{label:<26} {(user_after - user) * per:>9.3f} {(system_after - system) * per:>9.3f} "
            f"{wall * per:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("device", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    objects, tmp = args.device / "objects", args.device / "tmp"
    parts = sorted(p for p in objects.iterdir() if p.name.isdigit()) if objects.is_dir() else []
    if not parts:
        sys.exit(f"no partitions under {objects}")
    print(f"{len(parts)} partitions, {sum(len(suffixes(p)) for p in parts)} suffixes")
    print(f"{'ms per partition':<26} {'user':>9} {'sys':>9} {'wall':>9}")
    for _ in range(args.rounds):
        print(timed("dirty, fsync", parts, lambda: [get_hashes(p, tmp, (), RECLAIM_AGE, True) for p in parts], True))
        print(timed("dirty, no fsync", parts,
                    lambda: [get_hashes(p, tmp, (), RECLAIM_AGE, False) for p in parts], True))
        print(timed("hash_suffix alone", parts,
                    lambda: [[hash_suffix(p / s, RECLAIM_AGE) for s in suffixes(p)] for p in parts], True))
        for part in parts:  # leave them clean for the next row
            get_hashes(part, tmp, (), RECLAIM_AGE, False)
        print(timed("clean", parts, lambda: [get_hashes(p, tmp, (), RECLAIM_AGE, True) for p in parts], False))


if __name__ == "__main__":
    main()
