"""What signing backend requests costs (``martlet.backend_auth``).

    .venv/bin/python bench/backend_auth_bench.py [--count N] [--requests N]

Two tables, in CPU time of this process (``time.process_time``), so that
other load on the machine inflates them less than wall time would. First
the pure operations, over ``--count`` calls on a typical object path with
a query: making a signature, checking one, and both (what one backend
request costs the cluster). Then whole requests over loopback: one
in-process aiohttp server and client, ``GET`` of a small body
``--requests`` times (concurrency 16), with and without the signing client
middleware and the checking server middleware; the difference is the CPU
one request costs its sender and its storage daemon together (middleware
calls, header, HMAC). Asserts nothing about speed.
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
    started = time.process_time()
    for _ in range(count):
        fn()
    return (time.process_time() - started) / count * 1e6


def pure_table(count: int) -> str:
    now = time.time()
    value = KEY.sign("GET", TARGET, now)
    sign = per_call_us(lambda: KEY.sign("GET", TARGET, now), count)
    check = per_call_us(lambda: KEY.check("GET", TARGET, value, now), count)
    both = per_call_us(lambda: KEY.check("GET", TARGET, KEY.sign("GET", TARGET, now), now), count)
    rows = [f"{'operation':<16} {'CPU µs':>9}", f"{'sign':<16} {sign:>9.2f}", f"{'check':<16} {check:>9.2f}",
            f"{'sign + check':<16} {both:>9.2f}"]
    return "\n".join(rows)


async def hello(_request: web.Request) -> web.Response:
    return web.Response(body=b"x" * 64)


async def cpu_per_request_us(signed: bool, count: int, concurrency: int = 16) -> float:
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

            started = time.process_time()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return (time.process_time() - started) / count * 1e6
    finally:
        await runner.cleanup()


async def http_table(count: int) -> str:
    await cpu_per_request_us(False, min(count, 500))  # warm up
    plain = await cpu_per_request_us(False, count)
    signed = await cpu_per_request_us(True, count)
    return "\n".join([
        f"{'loopback GET (client+server)':<30} {'CPU µs/req':>11}",
        f"{'unsigned':<30} {plain:>11.1f}",
        f"{'signed and checked':<30} {signed:>11.1f}",
        f"{'difference':<30} {signed - plain:>11.1f}",
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
