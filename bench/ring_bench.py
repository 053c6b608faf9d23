"""Ring benchmark: rebalance cost and quality, ring load time, lookup rate.

    .venv/bin/python bench/ring_bench.py [--only a,b,c] [--lookups N]

Scenarios (3 replicas each):
  (a) part_power 14, 12 devices in 4 zones, equal weights
  (b) part_power 18, 100 devices over 2 regions and 10 zones, mixed weights
  (c) part_power 20, 300 devices over 2 regions, 10 zones, 60 servers
and each of them again after adding 10% more devices ("+10%"). "ideal" is
the new devices' weighted share in partition-replicas; "moved/ideal" should
stay at or below 1.02. Prints one table; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ring import RingBuilder, load_ring, save_ring  # noqa: E402

MIXED = (100.0, 150.0, 200.0, 300.0)


def scenario_a() -> RingBuilder:
    b = RingBuilder(14, 3, 1)
    for n in range(12):
        zone = n % 4 + 1
        b.add_device(1, zone, f"10.0.{zone}.{n // 4}", 6200, f"d{n}", 100.0)
    return b


def scenario_b() -> RingBuilder:
    b = RingBuilder(18, 3, 1)
    for n in range(100):
        region, zone = n % 2 + 1, n % 10 + 1
        b.add_device(region, zone, f"10.{region}.{zone}.{n // 20}", 6200, f"d{n}", MIXED[n % 4])
    return b


def scenario_c() -> RingBuilder:
    b = RingBuilder(20, 3, 1)
    for n in range(300):
        region, zone, server = n % 2 + 1, n % 10 + 1, n % 60
        b.add_device(region, zone, f"10.{region}.{zone}.{server}", 6200, f"d{n}", MIXED[n % 4])
    return b


def grow(b: RingBuilder) -> list[int]:
    """Add 10% more devices, spread over the existing zones, new servers."""
    live = b.live_devices()
    zones = sorted({(d.region, d.zone) for d in live})
    added = []
    for k in range(max(1, len(live) // 10)):
        region, zone = zones[k % len(zones)]
        dev = b.add_device(region, zone, f"10.{region}.{zone}.{200 + k}", 6300, f"n{k}", MIXED[k % 4])
        added.append(dev.id)
    return added


def measure(label: str, b: RingBuilder, now: float, ideal: float | None, lookups: int, folder: Path) -> dict[str, str]:
    start = time.perf_counter()
    result = b.rebalance(seed=1, now=now)
    rebalance_s = time.perf_counter() - start
    path = folder / "bench.ring"
    save_ring(b.get_ring(), path)
    start = time.perf_counter()
    ring = load_ring(path)
    load_s = time.perf_counter() - start
    names = [(f"AUTH_{i % 97}", f"c{i % 13}", f"o{i}") for i in range(lookups)]
    get_nodes = ring.get_nodes
    start = time.perf_counter()
    for a, c, o in names:
        get_nodes(a, c, o)
    rate = lookups / (time.perf_counter() - start)
    return {
        "scenario": label,
        "parts": f"2^{b.part_power}",
        "devs": str(len(b.live_devices())),
        "rebalance s": f"{rebalance_s:.2f}",
        "balance %": f"{result.balance:.4f}",
        "dispersion %": f"{result.dispersion:.2f}",
        "moved": str(result.moved),
        "ideal": "-" if ideal is None else f"{ideal:.0f}",
        "moved/ideal": "-" if ideal is None else f"{result.moved / ideal:.4f}",
        "load s": f"{load_s:.3f}",
        "get_nodes/s": f"{rate:,.0f}",
    }


def print_table(rows: list[dict[str, str]]) -> None:
    headers = list(rows[0])
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in headers]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
    for row in rows:
        print("  ".join(row[h].rjust(w) for h, w in zip(headers, widths)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--lookups", type=int, default=200_000)
    args = parser.parse_args()
    scenarios: dict[str, Callable[[], RingBuilder]] = {"a": scenario_a, "b": scenario_b, "c": scenario_c}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.only.split(","):
            b = scenarios[key]()
            rows.append(measure(f"({key})", b, 0.0, None, args.lookups, Path(tmp)))
            added = grow(b)
            ideal = float(b.stats().target[added].sum())
            rows.append(measure(f"({key}) +10%", b, 3600.0, ideal, args.lookups, Path(tmp)))
    print_table(rows)


if __name__ == "__main__":
    main()
