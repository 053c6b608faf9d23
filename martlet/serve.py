"""Running a daemon's ``web.Application``: start-up, serve, shutdown.

Start-up binds the socket; serving runs until SIGINT/SIGTERM; shutdown stops
accepting, lets in-flight requests drain (``shutdown_timeout``) and runs the
app's cleanup contexts. With ``workers > 1`` the parent forks that many
children that share the port through SO_REUSEPORT and waits for them; a
signal to the parent is passed on to every child.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import TypedDict

import uvloop
from aiohttp import web

log = logging.getLogger(__name__)

AppFactory = Callable[[], web.Application]


def bind_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class RunnerOptions(TypedDict):
    access_log: None
    shutdown_timeout: float
    auto_decompress: bool


def runner_options(shutdown_timeout: float = 10.0) -> RunnerOptions:
    """Keyword arguments for ``web.AppRunner`` that every martlet daemon needs.

    ``auto_decompress=False``: a body sent with ``Content-Encoding: gzip`` is
    the object itself and must be stored byte for byte (aiohttp would
    otherwise inflate it, or fail on it, before the handler sees it).
    """
    return {"access_log": None, "shutdown_timeout": shutdown_timeout, "auto_decompress": False}


async def _serve_forever(app: web.Application, sock: socket.socket, shutdown_timeout: float) -> None:
    runner = web.AppRunner(app, **runner_options(shutdown_timeout))
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("serving", extra={"address": sock.getsockname()})
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run_app(
    factory: AppFactory, host: str, port: int, workers: int = 1, shutdown_timeout: float = 10.0
) -> None:
    """Serve the app built by ``factory`` until a signal says stop."""
    if workers <= 1:
        sock = bind_socket(host, port, reuse_port=False)
        uvloop.run(_serve_forever(factory(), sock, shutdown_timeout))
        return
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                sock = bind_socket(host, port, reuse_port=True)
                uvloop.run(_serve_forever(factory(), sock, shutdown_timeout))
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for child in children:
        os.waitpid(child, 0)
