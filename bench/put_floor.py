"""The least CPU a 3-replica 1 MiB PUT can cost on this machine, and the
throughput ceiling that sets.

    .venv/bin/python bench/put_floor.py [--count N] [--concurrency C] [--dir DIR]

No martlet code runs here: it times, with the whole machine's CPU from
/proc/stat (so the kernel's writeback and network work count), only the
work no implementation of the PUT can skip:

* each replica writes the body to a new file and fsyncs it (3 per PUT);
* each replica computes the body's md5, its ETag (3 per PUT);
* the body crosses loopback TCP from the client to the proxy and from the
  proxy to each replica (4 per PUT).

It prints each item's CPU per MiB, the sum per PUT, and what the machine's
cores could then do at best: ``cores * 1000 / floor`` PUTs per second,
before any HTTP parsing, Python, or the load generator's own CPU. Run it
on a quiet machine: other processes' CPU is counted. DIR (default: the
system's temporary directory) must be on the cluster's disk, not a tmpfs,
or the fsyncs cost nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from threads import in_threads

MIB = 1024 * 1024
REPLICAS = 3
HOPS = REPLICAS + 1  # client -> proxy, proxy -> each replica


def busy_ticks() -> int:
    """Non-idle CPU ticks of the whole machine (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # minus idle and iowait


@dataclass(frozen=True)
class Measure:
    name: str
    per_put: int
    ms_per_mib: float
    mib_per_s: float


def measured(name: str, per_put: int, count: int, work: Callable[[], None]) -> Measure:
    """Machine CPU per MiB and MiB/s of ``work``, which moves ``count`` MiB."""
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    before, started = busy_ticks(), time.perf_counter()
    work()
    elapsed, spent = time.perf_counter() - started, busy_ticks() - before
    return Measure(name, per_put, spent * tick_ms / count, count / elapsed)


def fsynced_writes(directory: str, body: bytes, count: int, concurrency: int) -> None:
    def one(i: int) -> None:
        fd = os.open(os.path.join(directory, f"f{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)

    in_threads(count, concurrency, one)


def md5s(body: bytes, count: int) -> None:
    for _ in range(count):
        hashlib.md5(body, usedforsecurity=False).digest()


def loopback_transfer(body: bytes, count: int) -> None:
    """``count`` MiB from one thread to another over TCP on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        received = [0]

        def receive() -> None:
            connection, _ = server.accept()
            with connection:
                buffer = bytearray(MIB)
                while n := connection.recv_into(buffer):
                    received[0] += n

        reader = threading.Thread(target=receive)
        reader.start()
        with socket.create_connection(("127.0.0.1", port)) as sender:
            for _ in range(count):
                sender.sendall(body)
        reader.join()
    assert received[0] == count * len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=480, help="MiB moved per measure")
    parser.add_argument("--concurrency", type=int, default=16, help="writer threads (the bench's c=16)")
    parser.add_argument("--dir", default=None, help="where the fsynced files are written (the cluster's disk)")
    args = parser.parse_args()
    body = os.urandom(MIB)
    directory = tempfile.mkdtemp(prefix="put-floor-", dir=args.dir)
    try:
        measures = [
            measured("write + fsync a new file", REPLICAS, args.count,
                     lambda: fsynced_writes(directory, body, args.count, args.concurrency)),
            measured("md5 (each replica's ETag)", REPLICAS, args.count, lambda: md5s(body, args.count)),
            measured("loopback TCP, send + receive", HOPS, args.count, lambda: loopback_transfer(body, args.count)),
        ]
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    cores = os.cpu_count() or 1
    floor = sum(m.ms_per_mib * m.per_put for m in measures)
    print(f"{'work, per MiB':34} {'CPU ms':>8} {'MiB/s':>8} {'per PUT':>8} {'ms/PUT':>8}")
    for m in measures:
        print(f"{m.name:34} {m.ms_per_mib:8.2f} {m.mib_per_s:8.0f} {m.per_put:8d} {m.ms_per_mib * m.per_put:8.2f}")
    print(f"{'floor of one 1 MiB PUT':34} {'':8} {'':8} {'':8} {floor:8.2f}")
    disk = measures[0].mib_per_s / REPLICAS
    ceiling = cores * 1000 / floor  # 1 MiB PUTs per second
    print(f"ceiling on {cores} cores: {ceiling:.0f} MiB/s ({ceiling * MIB / 1e6:.0f} MB/s) of 1 MiB PUTs by CPU "
          f"(no HTTP, no Python, no load generator); {disk:.0f} MiB/s by the disk's fsynced writes")


if __name__ == "__main__":
    main()
