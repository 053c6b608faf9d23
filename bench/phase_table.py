"""A benchmark phase's figures and the table they print as, shared by the
benchmarks that time requests (cluster_bench.py, storage_bench.py).

Imported by those scripts as a sibling module: a script's own folder is
first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

HEADER = f"{'phase':<26} {'ops':>6} {'ops/s':>9} {'MB/s':>9} {'p50 ms':>9} {'p99 ms':>9}"
CPU_HEADER = f" {'cpu ms/op':>10} {'user':>7} {'sys':>7}"
AFTER_HEADER = f" {'after ms/op':>12}"


@dataclass(frozen=True)
class Result:
    phase: str
    ops: int
    seconds: float
    bytes: int
    latencies: list[float]  # seconds, one per operation
    # server CPU seconds (user, system) the phase cost, when measured
    cpu: tuple[float, float] | None = None
    # server CPU seconds (user, system) spent after the phase, above the idle
    # rate, while the cluster settled (replicating what a write phase wrote)
    after: tuple[float, float] | None = None

    def row(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        row = (f"{self.phase:<26} {self.ops:>6} {self.ops / self.seconds:>9.1f} "
               f"{self.bytes / self.seconds / 1e6:>9.2f} {p50:>9.2f} {p99:>9.2f}")
        if self.cpu is not None:
            user, system = (1000 * seconds / self.ops for seconds in self.cpu)
            row += f" {user + system:>10.2f} {user:>7.2f} {system:>7.2f}"
        if self.after is not None:
            row += f" {1000 * sum(self.after) / self.ops:>12.2f}"
        return row


def table(results: Iterable[Result]) -> str:
    results = list(results)
    header = HEADER + (CPU_HEADER if any(r.cpu is not None for r in results) else "")
    header += AFTER_HEADER if any(r.after is not None for r in results) else ""
    return "\n".join([header, *(result.row() for result in results)])


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The phase sizes and the server pids both cluster benches take (the
    issue's 4 KiB x2000 at c=32 and 1 MiB x300 at c=16 by default)."""
    parser.add_argument("--small-count", type=int, default=2000)
    parser.add_argument("--small-concurrency", type=int, default=32)
    parser.add_argument("--medium-count", type=int, default=300)
    parser.add_argument("--medium-concurrency", type=int, default=16)
    parser.add_argument("--server-pids", default="",
                        help="comma-separated root pids of the server processes (default: found from the port)")
