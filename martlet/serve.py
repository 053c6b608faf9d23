"""Running a daemon's ``web.Application``: start-up, serve, shutdown.

Start-up binds the socket; serving runs until SIGINT/SIGTERM; shutdown stops
accepting, lets in-flight requests drain (``shutdown_timeout``) and runs the
app's cleanup contexts. With ``workers > 1`` the parent forks that many
children that share the port through SO_REUSEPORT and waits for them; a
signal to the parent is passed on to every child.

A node supervisor (``martlet node``) runs several daemons in one process,
each on its own thread and event loop, so it cannot let them own signals:
``serve_until`` serves until an event is set instead, and ``NodeDaemon``
is how each component hands the supervisor a daemon to run that way.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import TypedDict

import uvloop
from aiohttp import web

from martlet.errors import UsageError

log = logging.getLogger(__name__)

AppFactory = Callable[[], web.Application]
# A daemon ready to run: it runs until the event is set, then returns.
DaemonMain = Callable[[asyncio.Event], Awaitable[object]]
# What a node's daemons may ask of their supervisor: its report of every
# daemon of the node (JSON-able), which the storage daemon serves on /recon.
SupervisorReport = Callable[[], Mapping[str, object]]
# How a component offers a daemon to ``martlet node``: given the node's
# storage.conf and the supervisor's report, load the config, take what must
# be taken before running (e.g. bind the port: an error here is a start
# failure, told in one line) and return the daemon to run. Called on the
# daemon's own thread, again on every restart, so a restart re-reads the config.
NodeDaemon = Callable[[str, SupervisorReport], DaemonMain]


def bind_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A listening socket; a port that is taken (or an address this host
    does not have) is a UsageError naming it, never a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be listened on ({exc.strerror or exc})"
        raise UsageError(f"{host}:{port} {reason}") from None
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


async def serve_until(app: web.Application, sock: socket.socket, stop: asyncio.Event,
                      shutdown_timeout: float = 10.0) -> None:
    """Serve ``app`` on the bound ``sock`` until ``stop`` is set, then drain."""
    runner = web.AppRunner(app, **runner_options(shutdown_timeout))
    try:
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
        log.info("serving", extra={"address": sock.getsockname()})
        await stop.wait()
    finally:
        await runner.cleanup()
        sock.close()


async def _serve_forever(app: web.Application, sock: socket.socket, shutdown_timeout: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve_until(app, sock, stop, shutdown_timeout)


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
