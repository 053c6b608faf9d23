"""Load against a running martlet cluster (by default the one `make dev` starts).

    .venv/bin/python bench/cluster_bench.py [--auth-url URL] [--user U] [--key K]

PUT, GET, HEAD and DELETE of many 4 KiB objects (2,000 at concurrency 32)
and 1 MiB objects (300 at concurrency 16), then one 256 MiB object; prints
ops/s, MB/s, p50 and p99 latency per phase, and the proxy's peak RSS
(VmHWM of the process serving the auth URL's port, found in /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlparse

import aiohttp
from phase_table import Result, table

KIB, MIB = 1024, 1024 * 1024


async def authenticate(session: aiohttp.ClientSession, url: str, user: str, key: str) -> tuple[str, str]:
    async with session.get(url, headers={"X-Auth-User": user, "X-Auth-Key": key}) as answer:
        if answer.status != 200:
            sys.exit(f"auth failed: {answer.status} {await answer.text()}")
        return answer.headers["X-Storage-Url"], answer.headers["X-Auth-Token"]


async def run_phase(name: str, count: int, concurrency: int, size: int,
                    one: Callable[[int], Awaitable[None]]) -> Result:
    """Run ``one(i)`` for i in range(count) with ``concurrency`` workers."""
    latencies: list[float] = []
    next_index = iter(range(count))

    async def worker() -> None:
        for i in next_index:
            started = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, count, time.perf_counter() - started, size * count, latencies)


async def expect(answer: aiohttp.ClientResponse, *statuses: int) -> None:
    if answer.status not in statuses:
        raise RuntimeError(f"{answer.method} {answer.url.path}: {answer.status} {await answer.text()}")


async def small_objects(session: aiohttp.ClientSession, base: str, token: str, size: int,
                        count: int, concurrency: int) -> list[Result]:
    body = os.urandom(size)
    headers = {"X-Auth-Token": token}
    names = [f"{base}/o{i:06d}" for i in range(count)]
    label = f"{size // KIB} KiB" if size < MIB else f"{size // MIB} MiB"

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

    results = []
    for verb, one, moved in (("PUT", put, size), ("GET", get, size), ("HEAD", head, 0), ("DELETE", delete, 0)):
        results.append(await run_phase(f"{verb} {label} x{count}/c{concurrency}", count, concurrency, moved, one))
    return results


async def large_object(session: aiohttp.ClientSession, base: str, token: str, size: int) -> list[Result]:
    block = os.urandom(MIB)
    url = f"{base}/large-object"
    headers = {"X-Auth-Token": token}
    digest = hashlib.md5()
    for _ in range(size // MIB):
        digest.update(block)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // MIB):
            yield block

    results = []
    started = time.perf_counter()
    async with session.put(url, data=body(), headers={**headers, "Content-Length": str(size)}) as answer:
        await expect(answer, 201)
    elapsed = time.perf_counter() - started
    results.append(Result(f"PUT {size // MIB} MiB x1", 1, elapsed, size, [elapsed]))
    started = time.perf_counter()
    got = hashlib.md5()
    async with session.get(url, headers=headers) as answer:
        await expect(answer, 200)
        async for chunk in answer.content.iter_chunked(MIB):
            got.update(chunk)
    elapsed = time.perf_counter() - started
    if got.hexdigest() != digest.hexdigest():
        raise RuntimeError("large object came back different")
    results.append(Result(f"GET {size // MIB} MiB x1", 1, elapsed, size, [elapsed]))
    for verb, status in (("HEAD", 200), ("DELETE", 204)):
        started = time.perf_counter()
        async with session.request(verb, url, headers=headers) as answer:
            await expect(answer, status)
        elapsed = time.perf_counter() - started
        results.append(Result(f"{verb} {size // MIB} MiB x1", 1, elapsed, 0, [elapsed]))
    return results


def proxy_peak_rss(port: int) -> str:
    """VmHWM of the `martlet proxy` whose config binds ``port`` (Linux only)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        if "proxy" not in words or "--config" not in words:
            continue
        config = Path(words[words.index("--config") + 1])
        if not config.is_absolute():
            config = Path(os.readlink(proc / "cwd")) / config
        try:
            if f"bind_port = {port}" not in config.read_text():
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmHWM"):
                    return f"{int(line.split()[1]) / 1024:.1f} MiB (pid {proc.name})"
        except OSError:
            continue
    return "unknown (proxy process not found)"


async def main(args: argparse.Namespace) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
        storage_url, token = await authenticate(session, args.auth_url, args.user, args.key)
        container = f"{storage_url}/bench-{uuid.uuid4().hex[:8]}"
        async with session.put(container, headers={"X-Auth-Token": token}) as answer:
            await expect(answer, 201, 202)
        results = []
        results += await small_objects(session, container, token, 4 * KIB, args.small_count, args.small_concurrency)
        results += await small_objects(session, container, token, MIB, args.medium_count, args.medium_concurrency)
        results += await large_object(session, container, token, args.large_mib * MIB)
        async with session.delete(container, headers={"X-Auth-Token": token}) as answer:
            await expect(answer, 204, 404, 409)
    print(table(results))
    print(f"proxy peak RSS: {proxy_peak_rss(urlparse(args.auth_url).port or 80)}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auth-url", default="http://127.0.0.1:8080/auth/v1.0")
    parser.add_argument("--user", default="test:tester")
    parser.add_argument("--key", default="testing")
    parser.add_argument("--small-count", type=int, default=2000)
    parser.add_argument("--small-concurrency", type=int, default=32)
    parser.add_argument("--medium-count", type=int, default=300)
    parser.add_argument("--medium-concurrency", type=int, default=16)
    parser.add_argument("--large-mib", type=int, default=256)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
