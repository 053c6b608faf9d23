"""Storage daemon benchmark: one real ``martlet storage`` process, straight HTTP.

    .venv/bin/python bench/storage_bench.py [--small-count N] [--large-count N]
                                            [--huge-mib N] [--no-fsync]

Starts the daemon as a subprocess on an ephemeral port over a temporary
devices root, then measures PUT and GET of 4 KiB objects (concurrency 32)
and of 1 MiB objects (concurrency 8), printing ops/s, MB/s, p50 and p99
latency; finally streams one 1 GiB object in and out while sampling the
daemon's RSS, whose peak must stay flat (well under 100 MB). Prints a table;
asserts nothing about speed. Bounded: every phase has a fixed request count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from phase_table import Result, table

from martlet.backend import backend_path
from martlet.backend_auth import BackendKey, signing_middleware
from martlet.timestamp import Timestamp
from ops.dev_processes import martlet_argv

MiB = 1024 * 1024
SECRET = "bench"  # the daemon refuses unsigned requests: the session signs as the cluster's do


def start_daemon(root: Path, fsync: bool) -> tuple[subprocess.Popen[bytes], int, Path]:
    devices = root / "node"
    (devices / "sda").mkdir(parents=True)
    (root / "martlet.conf").write_text(f"[hash]\npath_prefix = bench\npath_suffix = bench\n[cluster]\nsecret = {SECRET}\n")
    conf = root / "storage.conf"
    conf.write_text(
        f"[storage]\ndevices = {devices}\nbind_ip = 127.0.0.1\nbind_port = 0\n"
        f"workers = 1\ncluster_conf = martlet.conf\nfsync = {'true' if fsync else 'false'}\n"
    )
    log_path = root / "storage.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARTLET_")}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            martlet_argv("storage", "--config", str(conf)),
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for raw in log_path.read_text(errors="replace").splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("msg") == "serving":
                return proc, int(line["address"][1]), log_path
        if proc.poll() is not None:
            raise SystemExit(f"daemon exited: {log_path.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("daemon did not start within 30s")


_counter = iter(range(1, 1 << 62))


def stamp() -> str:
    return Timestamp(Timestamp.now().ticks + next(_counter)).internal


async def run_phase(
    session: aiohttp.ClientSession, base: str, method: str, name: str, count: int, concurrency: int, body: bytes
) -> Result:
    latencies: list[float] = []
    queue = iter(range(count))
    moved = 0

    async def worker() -> None:
        nonlocal moved
        for index in queue:
            url = base + backend_path("sda", index % 64, "AUTH_bench", "c", f"{name}-{index}")
            started = time.perf_counter()
            if method == "PUT":
                headers = {"X-Timestamp": stamp(), "Content-Type": "application/octet-stream"}
                async with session.put(url, data=body, headers=headers) as resp:
                    assert resp.status == 201, resp.status
                    await resp.read()
            else:
                async with session.get(url) as resp:
                    assert resp.status == 200, resp.status
                    async for chunk in resp.content.iter_chunked(256 * 1024):
                        moved += len(chunk)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    nbytes = count * len(body)
    return Result(f"{method} {name} c={concurrency}", count, elapsed, nbytes, latencies)


class RssSampler:
    """Samples VmRSS of a pid every 20 ms in a thread; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, self.rss_kib())
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self.peak_kib = self.rss_kib()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


async def huge_object(session: aiohttp.ClientSession, base: str, pid: int, mib: int) -> list[str]:
    url = base + backend_path("sda", 1, "AUTH_bench", "c", "huge")
    block = os.urandom(MiB)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(mib):
            yield block

    rows = []
    sampler = RssSampler(pid)
    before = sampler.rss_kib()
    with sampler:
        started = time.perf_counter()
        headers = {"X-Timestamp": stamp(), "Content-Type": "application/octet-stream"}
        async with session.put(url, data=body(), headers=headers) as resp:
            assert resp.status == 201, resp.status
        put_s = time.perf_counter() - started
    rows.append(f"PUT {mib} MiB: {mib * MiB / put_s / 1e6:.1f} MB/s, daemon RSS before {before / 1024:.1f} MB, peak {sampler.peak_kib / 1024:.1f} MB")
    sampler = RssSampler(pid)
    with sampler:
        started = time.perf_counter()
        received = 0
        async with session.get(url) as resp:
            assert resp.status == 200, resp.status
            async for chunk in resp.content.iter_chunked(MiB):
                received += len(chunk)
        get_s = time.perf_counter() - started
    assert received == mib * MiB, received
    rows.append(f"GET {mib} MiB: {mib * MiB / get_s / 1e6:.1f} MB/s, daemon RSS peak {sampler.peak_kib / 1024:.1f} MB")
    return rows


async def main_async(args: argparse.Namespace, port: int, pid: int) -> None:
    base = f"http://127.0.0.1:{port}"
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    connector = aiohttp.TCPConnector(limit=64)
    signing = (signing_middleware(BackendKey.from_secret(SECRET)),)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, auto_decompress=False,
                                     middlewares=signing) as session:
        small, large = os.urandom(4096), os.urandom(MiB)
        results = [
            await run_phase(session, base, "PUT", "4KiB", args.small_count, 32, small),
            await run_phase(session, base, "GET", "4KiB", args.small_count, 32, small),
            await run_phase(session, base, "PUT", "1MiB", args.large_count, 8, large),
            await run_phase(session, base, "GET", "1MiB", args.large_count, 8, large),
        ]
        print(table(results))
        for row in await huge_object(session, base, pid, args.huge_mib):
            print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-count", type=int, default=2000)
    parser.add_argument("--large-count", type=int, default=200)
    parser.add_argument("--huge-mib", type=int, default=1024)
    parser.add_argument("--no-fsync", action="store_true", help="run the daemon with fsync = false")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="storage-bench-") as tmp:
        proc, port, _log = start_daemon(Path(tmp), fsync=not args.no_fsync)
        try:
            print(f"martlet storage pid {proc.pid} on 127.0.0.1:{port}, fsync={'off' if args.no_fsync else 'on'}")
            asyncio.run(main_async(args, port, proc.pid))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


if __name__ == "__main__":
    main()
