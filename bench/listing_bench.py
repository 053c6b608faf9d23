"""Container listing benchmark: one container database, a million rows.

Inserts ``--rows`` object rows (in transactions of ``--batch``) through
``ContainerBroker.merge_objects``, the same path object-row updates take,
then times listing pages of 10,000 at the start, middle and end of the
container, with and without a prefix, and with a delimiter. Prints a table.

    .venv/bin/python bench/listing_bench.py [--rows 1000000] [--dir /tmp/x]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from storage.db import ContainerBroker, ObjectUpdate
from storage.listing import LISTING_LIMIT, ListingParams

TS = "1700000000.00000"


def name_of(i: int) -> str:
    # Ten "folders" of a tenth of the rows each, for prefix and delimiter pages.
    return f"dir{i % 10}/object-{i:08d}"


def insert(broker: ContainerBroker, rows: int, batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, rows, batch):
        broker.merge_objects(
            ObjectUpdate(name_of(i), TS, i % 4096, "application/octet-stream", "d41d8cd98f00b204e9800998ecf8427e")
            for i in range(start, min(rows, start + batch))
        )
    return time.perf_counter() - started


def time_page(broker: ContainerBroker, params: ListingParams, repeat: int) -> tuple[float, int]:
    samples, count = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        count = len(broker.list_page(params))
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="folder for the database (default: a temp dir)")
    parser.add_argument("--fsync", action="store_true", help="synchronous=FULL (the daemon's default)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        broker = ContainerBroker(root / "c.db", fsync=args.fsync)
        broker.create(root / "tmp", "AUTH_bench", "c", TS, {}, None)
        seconds = insert(broker, args.rows, args.batch)
        info = broker.get_info()
        print(f"inserted {info.object_count:,} rows in {seconds:.1f} s: "
              f"{args.rows / seconds:,.0f} rows/s (batches of {args.batch:,})")
        print(f"database size: {broker.path.stat().st_size / 2**20:.0f} MiB")
        ordered = sorted(name_of(i) for i in range(0, args.rows, max(1, args.rows // 1000)))
        middle, last = ordered[len(ordered) // 2], ordered[-2]
        cases = [
            ("start", ListingParams()),
            ("middle (marker)", ListingParams(marker=middle)),
            ("end (marker)", ListingParams(marker=last)),
            ("reverse start (end)", ListingParams(reverse=True)),
            ("prefix start", ListingParams(prefix="dir5/")),
            ("prefix middle", ListingParams(prefix="dir5/", marker=f"dir5/object-{args.rows // 2 + 5:08d}")),
            ("prefix end", ListingParams(prefix="dir5/", marker=f"dir5/object-{args.rows - 50_005:08d}")),
            ("delimiter /", ListingParams(delimiter="/")),
        ]
        print(f"\n{'page of ' + format(LISTING_LIMIT, ','):<22}{'rows':>8}{'ms/page':>10}")
        for label, params in cases:
            ms, count = time_page(broker, params, args.repeat)
            print(f"{label:<22}{count:>8}{ms:>10.1f}")


if __name__ == "__main__":
    main()
