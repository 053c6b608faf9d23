"""What signing backend requests costs (``martlet.backend_auth``).

    .venv/bin/python bench/backend_auth_bench.py [--count N] [--requests N]

Two tables. First the pure operations, timed over ``--count`` calls on a
typical object path with a query: making a signature, checking one, and
both (what one backend request costs the cluster in CPU). Then whole
requests over loopback: one in-process aiohttp server and client, ``GET``
of a small body ``--requests`` times (concurrency 16), with and without
the signing client middleware and the checking server middleware, so the
difference is the per-request cost as the daemons pay it (middleware call,
header, HMAC). Asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

import aiohttp
from aiohttp import web

from martlet.backend import backend_path
from martlet.backend_auth import BackendKey, checking_middleware, signing_middleware

KEY = BackendKey.from_secret("bench secret")
TARGET = backend_path("d1", 123456, "AUTH_test", "photos", "2024/holiday/IMG_0001.jpg") + "?multipart-manifest=get"


def per_call_us(fn: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - started) / count * 1e6


def pure_table(count: int) -> str:
    now = time.time()
    value = KEY.sign("GET", TARGET, now)
    sign = per_call_us(lambda: KEY.sign("GET", TARGET, now), count)
    check = per_call_us(lambda: KEY.check("GET", TARGET, value, now), count)
    both = per_call_us(lambda: KEY.check("GET", TARGET, KEY.sign("GET", TARGET, now), now), count)
    rows = [f"{'operation':<16} {'µs/call':>9}", f"{'sign':<16} {sign:>9.2f}", f"{'check':<16} {check:>9.2f}",
            f"{'sign + check':<16} {both:>9.2f}"]
    return "\n".join(rows)


async def hello(_request: web.Request) -> web.Response:
    return web.Response(body=b"x" * 64)


async def requests_per_second(signed: bool, count: int, concurrency: int = 16) -> float:
    middlewares = [checking_middleware(KEY)] if signed else []
    app = web.Application(middlewares=middlewares)
    app.router.add_get("/{tail:.*}", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    client_mw = (signing_middleware(KEY),) if signed else ()
    url = f"http://127.0.0.1:{port}{TARGET}"
    try:
        async with aiohttp.ClientSession(middlewares=client_mw) as session:
            remaining = iter(range(count))

            async def worker() -> None:
                for _ in remaining:
                    async with session.get(url) as resp:
                        assert resp.status == 200, resp.status
                        await resp.read()

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return count / (time.perf_counter() - started)
    finally:
        await runner.cleanup()


async def http_table(count: int) -> str:
    await requests_per_second(False, min(count, 500))  # warm up
    plain = await requests_per_second(False, count)
    signed = await requests_per_second(True, count)
    cost_us = (1 / signed - 1 / plain) * 1e6
    return "\n".join([
        f"{'loopback GET, one process':<28} {'req/s':>9} {'µs/req':>9}",
        f"{'unsigned':<28} {plain:>9.0f} {1e6 / plain:>9.1f}",
        f"{'signed and checked':<28} {signed:>9.0f} {1e6 / signed:>9.1f}",
        f"{'difference':<28} {'':>9} {cost_us:>9.1f}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="calls per pure operation")
    parser.add_argument("--requests", type=int, default=5000, help="HTTP requests per variant")
    args = parser.parse_args()
    print(pure_table(args.count))
    print()
    print(asyncio.run(http_table(args.requests)))


if __name__ == "__main__":
    main()
