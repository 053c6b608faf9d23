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

What a client may take of a daemon is bounded (``ClientLimits``, Swift's
defaults): its request line and headers must arrive within
``client_timeout``, no line may exceed ``max_header_size`` bytes, no request
may carry more than ``max_header_count`` headers, and each process serves at
most ``max_clients`` connections at once - further ones wait in the listen
backlog until one closes (``ClientSite``), as Swift's eventlet pool makes
them wait, so slow or idle clients cannot exhaust a daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypedDict

import uvloop
from aiohttp import http_exceptions, http_parser, web, web_protocol

from martlet.errors import UsageError
from martlet.http import BACKEND_ONLY
from martlet.logs import flush_logs
from martlet.memory import keep_large_buffers

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

# The request line and the final empty line count against aiohttp's
# max_headers as well as the headers themselves.
_PARSER_EXTRA_LINES = 2
# After a failed accept (out of file descriptors, say), wait this long
# before the next, rather than spin.
_ACCEPT_RETRY_DELAY = 0.1


def _swift_parser(protocol: web.RequestHandler, loop: asyncio.AbstractEventLoop,
                  options: HandlerOptions) -> _SwiftRequestParser:
    """The request parser of a connection from Swift's clients.

    aiohttp's C parser (llhttp) refuses, before any handler runs, what Swift
    serves: methods outside its fixed list (``LICK`` must reach the proxy to
    be a 405), raw UTF-8 in the request line (Swift clients send object
    names unquoted), and a PUT without a length whose body follows anyway (a
    411, not the 400 llhttp gives the body bytes). The Python parser accepts
    any RFC 9110 token as a method and keeps the raw path (non-UTF-8 bytes
    as surrogate escapes, which ``martlet.http.raw_path_bytes`` undoes). It
    costs more per request: in the storage daemon, which only the cluster's
    daemons talk to (``BACKEND_ONLY``), it was the largest single part of
    the event loop's time (about a sixth, by cProfile), so that app keeps
    llhttp.

    It also parses one request of a connection at a time (a message queue
    of one), as eventlet does, instead of up to 32 ahead: bytes that follow
    a request are parsed only once that request is under way, so when they
    are not a request (the body of a PUT sent without a length) the request
    still gets its answer (411) before the 400 for them, instead of losing
    it with them.
    """
    return _SwiftRequestParser(
        protocol, loop, web_protocol.DEFAULT_CHUNK_SIZE,
        max_line_size=options["max_line_size"], max_field_size=options["max_field_size"],
        max_headers=options["max_headers"], payload_exception=web_protocol.RequestPayloadError,
        auto_decompress=False, max_msg_queue_size=1,
    )


_CONNECT = b"CONNECT "


class _SwiftRequestParser(http_parser.HttpRequestParserPy):
    """aiohttp's Python parser, except for a Transfer-Encoding that lists
    several codings (``gzip,chunked``): Swift answers those 501, which the
    handler can only do if the parser neither refuses the request (its 400
    for ``chunked`` not last) nor reads the body as chunks (a 400 for bytes
    that are not chunks, racing the handler's 501). Such a request has no
    body for us and its connection closes after the answer, since what the
    client sends after the headers is not a next request.

    And except for CONNECT: aiohttp reads its target as an authority
    (``host:port``) and fails on one that is not ASCII while building the
    request, outside any handler, leaving the connection open and never
    answered (a client could hold every connection slot so). Nothing here
    tunnels, so its target is read as any other method's and the request
    gets the app's answer (405); the connection closes after it."""

    def _is_chunked_te(self, te: str) -> bool:
        if "," in te:
            return False
        return super()._is_chunked_te(te)

    def parse_message(self, lines: list[bytes]) -> http_parser.RawRequestMessage:
        connect = lines[0].startswith(_CONNECT)
        if connect:
            lines = [b"GET " + lines[0][len(_CONNECT):], *lines[1:]]
        message = super().parse_message(lines)
        if connect:
            return message._replace(method="CONNECT", should_close=True)
        te = message.headers.get("Transfer-Encoding")
        if te is not None and "," in te:
            return message._replace(should_close=True)
        return message


@dataclass(frozen=True)
class ClientLimits:
    """How much of a daemon one client may hold (Swift's defaults)."""

    # Seconds for the request line and headers of a request to arrive, from
    # the connection's opening or the previous answer (Swift's
    # client_timeout also covers headers); an idle keep-alive connection is
    # closed after as long.
    client_timeout: float = 60.0
    # Bytes of the request line, and of each header line (Swift's
    # max_header_size, eventlet's MAX_HEADER_LINE).
    max_header_size: int = 8192
    # Headers in one request: Swift's 90 metadata items, the standard
    # headers and some to spare (Swift allows 1.6 x 126).
    max_header_count: int = 200
    # Connections served at once by one process (Swift's max_clients).
    max_clients: int = 1024


class HandlerOptions(TypedDict):
    """The ``web.RequestHandler`` keywords ``ClientLimits`` sets."""

    keepalive_timeout: float
    max_line_size: int
    max_field_size: int
    max_headers: int


def handler_options(limits: ClientLimits) -> HandlerOptions:
    """aiohttp's keep-alive timer runs from the connection's opening (or the
    last answer) until a whole request has been parsed, so it is a deadline
    for the request line and headers."""
    return {
        "keepalive_timeout": limits.client_timeout,
        "max_line_size": limits.max_header_size,
        "max_field_size": limits.max_header_size,
        "max_headers": limits.max_header_count + _PARSER_EXTRA_LINES,
    }


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


class _Connection(web.RequestHandler):
    """aiohttp's protocol for one client connection, which gives its slot
    back when the connection ends."""

    __slots__ = ("_release",)

    def __init__(self, manager: web.Server, release: Callable[[], None], options: HandlerOptions,
                 swift_parser: bool = True) -> None:
        # access_log=None: martlet.http logs each request itself (aiohttp
        # accepts None, though its hints say Logger).
        loop = asyncio.get_running_loop()
        super().__init__(
            manager, loop=loop, access_log=None,  # type: ignore[arg-type]
            auto_decompress=False, **options,
        )
        if swift_parser:
            # aiohttp made its C parser; nothing has been fed to it yet.
            self._parser = _swift_parser(self, loop, options)
            self._max_msg_queue_size = 1
            self._msg_queue_resume_size = 0
        self._release: Callable[[], None] | None = release

    def log_exception(self, *args: object, **kw: object) -> None:
        """A request the HTTP parser refused (bad framing, a line too long,
        a bad header) is the client's fault and gets its 4xx: one line, not
        aiohttp's traceback, which would make every such client an error in
        the logs."""
        exc = kw.get("exc_info")
        if isinstance(exc, http_exceptions.HttpProcessingError) and exc.code < 500:
            log.info("request refused by the HTTP parser", extra={"status": exc.code, "reason": exc.message})
            return
        super().log_exception(*args, **kw)

    def connection_lost(self, exc: BaseException | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class ClientSite(web.BaseSite):
    """Serves a runner's app on a listening socket, at most
    ``limits.max_clients`` connections at a time.

    It accepts connections itself instead of through ``loop.create_server``:
    holding a slot before each ``accept`` leaves the connections beyond the
    limit in the kernel's listen backlog, unanswered but not refused.
    """

    __slots__ = ("_sock", "_limits", "_slots", "_accepting", "_swift_parser")

    def __init__(self, runner: web.AppRunner, sock: socket.socket, limits: ClientLimits) -> None:
        super().__init__(runner)
        self._sock = sock
        self._limits = limits
        self._swift_parser = not runner.app.get(BACKEND_ONLY, False)
        self._slots = asyncio.Semaphore(limits.max_clients)
        self._accepting: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        self._accepting = asyncio.create_task(self._accept_loop())

    async def stop(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        self._sock.close()
        await super().stop()

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None  # the runner is set up before its sites start
        options = handler_options(self._limits)
        swift_parser = self._swift_parser
        while True:
            await self._slots.acquire()
            try:
                conn, _ = await loop.sock_accept(self._sock)
            except OSError as exc:
                self._slots.release()
                log.warning("accept failed", extra={"error": str(exc)})
                await asyncio.sleep(_ACCEPT_RETRY_DELAY)
                continue
            except BaseException:
                self._slots.release()
                raise
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await loop.connect_accepted_socket(
                    lambda: _Connection(server, self._slots.release, options, swift_parser), conn
                )
            except OSError:
                # The client left before the connection was set up; a
                # connection that was set up gives its slot back itself.
                conn.close()
                self._slots.release()


async def start_serving(app: web.Application, sock: socket.socket, limits: ClientLimits,
                        shutdown_timeout: float = 10.0) -> web.AppRunner:
    """Set ``app`` up and serve it on ``sock`` within ``limits``; stop it
    with ``runner.cleanup()``."""
    runner = web.AppRunner(app, **runner_options(shutdown_timeout), **handler_options(limits))
    await runner.setup()
    await ClientSite(runner, sock, limits).start()
    return runner


async def serve_until(app: web.Application, sock: socket.socket, stop: asyncio.Event,
                      shutdown_timeout: float = 10.0, limits: ClientLimits = ClientLimits()) -> None:
    """Serve ``app`` on the bound ``sock`` until ``stop`` is set, then drain."""
    runner: web.AppRunner | None = None
    try:
        runner = await start_serving(app, sock, limits, shutdown_timeout)
        log.info("serving", extra={"address": sock.getsockname()})
        await stop.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        sock.close()


async def _serve_forever(app: web.Application, sock: socket.socket, limits: ClientLimits,
                         shutdown_timeout: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve_until(app, sock, stop, shutdown_timeout, limits)


def run_app(
    factory: AppFactory, host: str, port: int, workers: int = 1, shutdown_timeout: float = 10.0,
    limits: ClientLimits = ClientLimits(),
) -> None:
    """Serve the app built by ``factory`` until a signal says stop."""
    keep_large_buffers()
    if workers <= 1:
        sock = bind_socket(host, port, reuse_port=False)
        uvloop.run(_serve_forever(factory(), sock, limits, shutdown_timeout))
        return
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                sock = bind_socket(host, port, reuse_port=True)
                uvloop.run(_serve_forever(factory(), sock, limits, shutdown_timeout))
            finally:
                flush_logs()  # os._exit skips logging's own flush at exit
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
