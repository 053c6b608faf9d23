"""Load against a running martlet cluster (by default the one `make dev` starts).

    .venv/bin/python bench/cluster_bench.py [--auth-url URL] [--user U] [--key K]

PUT, GET, HEAD and DELETE of many 4 KiB objects (2,000 at concurrency 32)
and 1 MiB objects (300 at concurrency 16), then one 256 MiB object; prints
ops/s, MB/s, p50 and p99 latency per phase, the server CPU per operation
(user and system time of the cluster's processes, server_cpu.py: by default
the `martlet dev` serving the auth URL's port; --server-pids names others),
the proxy's peak RSS and the cluster's summed peak RSS (VmHWM, from /proc).

With ``--settle S``, the cluster is left alone for S seconds after each
write phase (PUT, DELETE), and what it spent then above its idle rate
(measured over S seconds before the first phase) is the phase's "after"
column: the replication, updates and auditing its writes set off. Without
it, that work lands in whichever phase runs next; give S above the
replicator's interval (10 s in `martlet dev`) so the pass the writes dirty
falls in the wait.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import aiohttp
from phase_table import Result, add_load_arguments, table
from server_cpu import CpuSample, cluster_roots, proxy_peak_rss, sample

KIB, MIB = 1024, 1024 * 1024


async def authenticate(session: aiohttp.ClientSession, url: str, user: str, key: str) -> tuple[str, str]:
    async with session.get(url, headers={"X-Auth-User": user, "X-Auth-Key": key}) as answer:
        if answer.status != 200:
            sys.exit(f"auth failed: {answer.status} {await answer.text()}")
        return answer.headers["X-Storage-Url"], answer.headers["X-Auth-Token"]


# The cluster's root pids, whose CPU the phases are charged (set by main).
SERVER_ROOTS: list[int] = []


@dataclass
class Settling:
    """``--settle``: how long to wait after a write phase, and the cluster's
    CPU over as long a wait before the first phase (set by main)."""

    seconds: float = 0.0
    idle: CpuSample | None = None


SETTLING = Settling()


async def idle_cpu(seconds: float) -> CpuSample:
    before = sample(SERVER_ROOTS)
    await asyncio.sleep(seconds)
    return sample(SERVER_ROOTS).minus(before)


async def measured(name: str, count: int, moved: int, work: Callable[[], Awaitable[list[float]]],
                   writes: bool = False) -> Result:
    """Run ``work`` (which returns its operations' latencies) as one phase,
    timed and charged the cluster's CPU; a phase that ``writes`` is then
    given the settling wait (``Settling``) and charged what it cost."""
    before = sample(SERVER_ROOTS) if SERVER_ROOTS else None
    started = time.perf_counter()
    latencies = await work()
    elapsed = time.perf_counter() - started
    cpu = after = None
    if before is not None:
        ended = sample(SERVER_ROOTS)
        spent = ended.minus(before)
        cpu = (spent.user, spent.system)
        if writes and SETTLING.idle is not None:
            await asyncio.sleep(SETTLING.seconds)
            background = sample(SERVER_ROOTS).minus(ended).minus(SETTLING.idle)
            after = (background.user, background.system)
    return Result(name, count, elapsed, moved, latencies, cpu, after)


async def run_phase(name: str, count: int, concurrency: int, size: int,
                    one: Callable[[int], Awaitable[None]], writes: bool = False) -> Result:
    """Run ``one(i)`` for i in range(count) with ``concurrency`` workers."""

    async def work() -> list[float]:
        latencies: list[float] = []
        next_index = iter(range(count))

        async def worker() -> None:
            for i in next_index:
                started = time.perf_counter()
                await one(i)
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies

    return await measured(name, count, size * count, work, writes)


async def timed_once(coroutine: Awaitable[None]) -> list[float]:
    started = time.perf_counter()
    await coroutine
    return [time.perf_counter() - started]


async def expect(answer: aiohttp.ClientResponse, *statuses: int) -> None:
    if answer.status not in statuses:
        raise RuntimeError(f"{answer.method} {answer.url.path}: {answer.status} {await answer.text()}")


async def small_objects(session: aiohttp.ClientSession, base: str, token: str, size: int,
                        count: int, concurrency: int) -> list[Result]:
    body = os.urandom(size)
    headers = {"X-Auth-Token": token}
    names = [f"{base}/o{i:06d}" for i in range(count)]

    async def put(i: int) -> None:
        async with session.put(names[i], data=body, headers=headers) as answer:
            await expect(answer, 201)

    async def get(i: int) -> None:
        async with session.get(names[i], headers=headers) as answer:
            await expect(answer, 200)
            got = await answer.read()
            if len(got) != size:
                raise RuntimeError(f"short read {len(got)}")

    async def head(i: int) -> None:
        async with session.head(names[i], headers=headers) as answer:
            await expect(answer, 200)

    async def delete(i: int) -> None:
        async with session.delete(names[i], headers=headers) as answer:
            await expect(answer, 204)

    return await verb_phases("", size, count, concurrency, put, get, head, delete)


def size_label(size: int) -> str:
    return f"{size // KIB} KiB" if size < MIB else f"{size // MIB} MiB"


async def verb_phases(prefix: str, size: int, count: int, concurrency: int, put: Callable[[int], Awaitable[None]],
                      get: Callable[[int], Awaitable[None]], head: Callable[[int], Awaitable[None]],
                      delete: Callable[[int], Awaitable[None]]) -> list[Result]:
    """The PUT, GET, HEAD and DELETE phases of ``count`` objects of
    ``size`` bytes, one after the other (shared with s3_bench.py, so both
    APIs are driven alike)."""
    results = []
    for verb, one, moved in (("PUT", put, size), ("GET", get, size), ("HEAD", head, 0), ("DELETE", delete, 0)):
        name = f"{prefix}{verb} {size_label(size)} x{count}/c{concurrency}"
        results.append(await run_phase(name, count, concurrency, moved, one, writes=verb in ("PUT", "DELETE")))
    return results


async def large_object(session: aiohttp.ClientSession, base: str, token: str, size: int) -> list[Result]:
    block = os.urandom(MIB)
    url = f"{base}/large-object"
    headers = {"X-Auth-Token": token}
    digest, crc = hashlib.md5(), 0
    for _ in range(size // MIB):
        digest.update(block)
        crc = zlib.crc32(block, crc)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // MIB):
            yield block

    async def put() -> None:
        async with session.put(url, data=body(), headers={**headers, "Content-Length": str(size)}) as answer:
            await expect(answer, 201)

    async def get() -> None:
        # Every byte is checked by CRC-32 (~3.5 GB/s here), not md5 (~700
        # MB/s): the load generator shares the server's two cores, and an
        # md5 of the stream took most of one, so it, not the server, set
        # the pace. The md5 is still checked, against the server's ETag.
        got, length = 0, 0
        async with session.get(url, headers=headers) as answer:
            await expect(answer, 200)
            etag = answer.headers.get("Etag", "").strip('"')
            async for chunk in answer.content.iter_chunked(MIB):
                got = zlib.crc32(chunk, got)
                length += len(chunk)
        if (got, length, etag) != (crc, size, digest.hexdigest()):
            raise RuntimeError("large object came back different")

    async def other(verb: str, status: int) -> None:
        async with session.request(verb, url, headers=headers) as answer:
            await expect(answer, status)

    label = f"{size // MIB} MiB x1"
    return [
        await measured(f"PUT {label}", 1, size, lambda: timed_once(put()), writes=True),
        await measured(f"GET {label}", 1, size, lambda: timed_once(get())),
        await measured(f"HEAD {label}", 1, 0, lambda: timed_once(other("HEAD", 200))),
        await measured(f"DELETE {label}", 1, 0, lambda: timed_once(other("DELETE", 204)), writes=True),
    ]


def client_session() -> aiohttp.ClientSession:
    """The load generator's session (shared with s3_bench.py): unlimited
    pooled connections, bodies read as sent."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)


async def main(args: argparse.Namespace) -> None:
    port = urlparse(args.auth_url).port or 80
    if args.server_pids:
        SERVER_ROOTS[:] = [int(pid) for pid in args.server_pids.split(",")]
    else:
        SERVER_ROOTS[:] = cluster_roots(port)
    if args.settle > 0 and not SERVER_ROOTS:
        sys.exit("--settle needs the server's CPU: no martlet proxy on this machine serves the port "
                 "(give --server-pids)")
    if not SERVER_ROOTS:
        print("server CPU not measured: no martlet proxy on this machine serves the port (give --server-pids)")
    async with client_session() as session:
        storage_url, token = await authenticate(session, args.auth_url, args.user, args.key)
        container = f"{storage_url}/bench-{uuid.uuid4().hex[:8]}"
        async with session.put(container, headers={"X-Auth-Token": token}) as answer:
            await expect(answer, 201, 202)
        if args.settle > 0:
            SETTLING.seconds = args.settle
            SETTLING.idle = await idle_cpu(args.settle)
            print(f"idle: {1000 * (SETTLING.idle.user + SETTLING.idle.system) / args.settle:.1f} ms/s of server CPU "
                  f"over {args.settle:g} s; each write phase is followed by a {args.settle:g} s wait")
        results = []
        if "small" in args.sizes:
            results += await small_objects(session, container, token, 4 * KIB, args.small_count, args.small_concurrency)
        if "medium" in args.sizes:
            results += await small_objects(session, container, token, MIB, args.medium_count, args.medium_concurrency)
        if "large" in args.sizes:
            results += await large_object(session, container, token, args.large_mib * MIB)
        async with session.delete(container, headers={"X-Auth-Token": token}) as answer:
            await expect(answer, 204, 404, 409)
    print(table(results))
    print(f"proxy peak RSS: {proxy_peak_rss(port)}")
    if SERVER_ROOTS:
        cluster = sample(SERVER_ROOTS)
        print(f"cluster: {cluster.processes} processes, summed peak RSS {cluster.peak_rss_kib / 1024:.1f} MiB")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auth-url", default="http://127.0.0.1:8080/auth/v1.0")
    parser.add_argument("--user", default="test:tester")
    parser.add_argument("--key", default="testing")
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds to leave the cluster alone after each write phase, its CPU then "
                             "(above the idle rate) charged to that phase (default 0: no wait)")
    parser.add_argument("--sizes", default="small,medium,large",
                        help="which phases to run: small (4 KiB), medium (1 MiB), large")
    add_load_arguments(parser)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
