"""A lean HTTP/1.1 client for the backend requests whose answer is read whole.

Most backend requests are a request line, a dozen headers and at most a
small body, answered by a status and a few headers: every replica write of a
small object, every DELETE and POST, every container-row update. aiohttp's
client costs about twice what such an exchange needs here (its request and
response objects, tracing hooks, middleware chain, per-read timers), and the
proxy makes three of them per write. ``WholeAnswerClient`` sends exactly
what ``martlet.backend.backend_request`` would (the same path, query,
headers, transaction id and signature) over its own keep-alive connections
and hands back the whole answer. Anything that streams (a large body out, an
object read in) stays with the aiohttp session.

What it does not do, by design: redirects, compression, cookies, proxies,
``Expect: 100-continue``. Interim 1xx answers are skipped. An answer framed
by neither ``Content-Length`` nor chunking is read until the server closes.

Timeouts: connecting may take ``conn_timeout`` (a node named by host name
is looked up once and its addresses kept: ``martlet.resolver``); the whole answer must then
arrive within ``node_timeout`` of the request going out (aiohttp measures
each read instead; for answers of a few hundred bytes the two agree).
A request that fails on a reused connection before any byte of its answer
arrived is sent once more on a new one, as aiohttp does for its idempotent
methods: the server may have closed the idle connection just then, and
every backend write here is idempotent (it carries its own X-Timestamp).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from multidict import CIMultiDict, CIMultiDictProxy

from martlet.backend import BackendTimeouts, backend_url, outgoing
from martlet.backend_auth import SIGNATURE_HEADER, BackendKey, Clock
from martlet.http import verb
from martlet.netaddr import host_port
from martlet.resolver import NAMES, Resolver

# What aiohttp refuses in a header name or value (a header injection).
_FORBIDDEN_HEADER_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Bounds on what a server may send before its body: a peer gone wrong
# must not grow a buffer without end.
MAX_HEAD_BYTES = 64 * 1024
MAX_CHUNK_LINE = 1024
_NO_BODY_STATUSES = frozenset({204, 304})
# Methods aiohttp sends without a Content-Length when they carry no body.
_BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class BackendConnectError(ConnectionError):
    """The node could not be reached (refused, unreachable, or not within
    ``conn_timeout``): the node's fault alone, as a failed connect is."""


class BadAnswer(ConnectionError):
    """The server's answer was not HTTP/1.1 this client can read."""


@dataclass(frozen=True)
class Answer:
    """A backend server's whole answer."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass
class _Parsed:
    status: int
    headers: CIMultiDict[str]
    keep_alive: bool
    length: int | None  # body bytes still expected; None: chunked or until close
    chunked: bool


def parse_head(head: bytes, method: str) -> _Parsed:
    """Pure: the status line and headers of an answer to ``method``
    (without the blank line that ends them); BadAnswer if not HTTP/1.x."""
    lines = head.decode("utf-8", "surrogateescape").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise BadAnswer(f"bad status line {lines[0][:80]!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadAnswer(f"bad header line {line[:80]!r}")
        headers.add(name, value.strip(" \t"))
    status = int(code)
    connection = headers.get("Connection", "").lower()
    keep_alive = version == "HTTP/1.1" and "close" not in connection
    if method == "HEAD" or status in _NO_BODY_STATUSES or status < 200:
        return _Parsed(status, headers, keep_alive, 0, False)
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return _Parsed(status, headers, keep_alive, None, True)
    length = headers.get("Content-Length")
    if length is None:
        return _Parsed(status, headers, False, None, False)
    if not length.isdigit():
        raise BadAnswer(f"bad Content-Length {length[:40]!r}")
    return _Parsed(status, headers, keep_alive, int(length), False)


def take_chunks(buffer: bytearray, body: bytearray) -> bool | None:
    """Pure: move whole chunks of a chunked body from ``buffer`` to ``body``;
    True once the last chunk and trailers are taken, None if more bytes are
    needed. BadAnswer for what is not chunked framing."""
    while True:
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) > MAX_CHUNK_LINE:
                raise BadAnswer("chunk size line too long")
            return None
        size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadAnswer(f"bad chunk size {size_text[:20]!r}") from None
        if size == 0:  # the last chunk; trailers, if any, end with a blank line
            if buffer[end + 2:end + 4] == b"\r\n":
                del buffer[:end + 4]
                return True
            trailers_end = buffer.find(b"\r\n\r\n", end + 2)
            if trailers_end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise BadAnswer("chunked trailers too large")
                return None
            del buffer[:trailers_end + 4]
            return True
        if len(buffer) < end + 2 + size + 2:
            return None
        body += buffer[end + 2:end + 2 + size]
        if buffer[end + 2 + size:end + 4 + size] != b"\r\n":
            raise BadAnswer("chunk not followed by CRLF")
        del buffer[:end + 4 + size]


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._method = ""
        self._parsed: _Parsed | None = None
        self._body = bytearray()
        self._answer: asyncio.Future[Answer] | None = None
        self.got_bytes = False  # of the current answer: a failure after them is not a stale connection's

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection is not reusable
            return
        self.got_bytes = True
        self._buffer += data
        try:
            self._advance(eof=False)
        except BadAnswer as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        if self._answer is not None and not self._answer.done():
            try:
                self._advance(eof=True)
            except BadAnswer as exc:
                self._fail(exc)
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(ConnectionResetError("server closed the connection before answering"))

    # -- the exchange
    def send(self, request: bytes, method: str) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self._method = method
        self._parsed = None
        self._body = bytearray()
        self.got_bytes = False
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)
        self.close()

    def _advance(self, eof: bool) -> None:
        if self._parsed is None and not self._take_head():
            if eof:
                raise BadAnswer("connection closed inside the answer's head")
            return
        parsed = self._parsed
        assert parsed is not None
        if parsed.chunked:
            if take_chunks(self._buffer, self._body) is None:
                if eof:
                    raise BadAnswer("connection closed inside a chunked body")
                return
        elif parsed.length is None:  # until the server closes
            self._body += self._buffer
            self._buffer.clear()
            if not eof:
                return
        else:
            if len(self._buffer) < parsed.length:
                if eof:
                    raise BadAnswer("connection closed inside the body")
                return
            self._body += self._buffer[:parsed.length]
            del self._buffer[:parsed.length]
        self._finish(parsed)

    def _take_head(self) -> bool:
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise BadAnswer("answer head too large")
                return False
            parsed = parse_head(bytes(self._buffer[:end]), self._method)
            del self._buffer[:end + 4]
            if 100 <= parsed.status < 200:
                continue  # interim answer: the real one follows
            self._parsed = parsed
            return True

    def _finish(self, parsed: _Parsed) -> None:
        if not parsed.keep_alive or self._buffer:
            self.close()  # nothing may follow an answer we did not ask for
        assert self._answer is not None
        self._answer.set_result(Answer(parsed.status, CIMultiDictProxy(parsed.headers), bytes(self._body)))
        self._parsed = None
        self._body = bytearray()


class WholeAnswerClient:
    """Signed backend requests answered whole, over pooled keep-alive
    connections (at most ``per_host`` open to one ``ip:port``; more wait)."""

    def __init__(self, key: BackendKey, timeouts: BackendTimeouts = BackendTimeouts(),
                 per_host: int = 64, keepalive: float = 30.0, clock: Clock = time.time,
                 names: Resolver = NAMES) -> None:
        self._key = key
        self._timeouts = timeouts
        self._per_host = per_host
        self._keepalive = keepalive
        self._clock = clock
        self._idle: defaultdict[tuple[str, int], deque[_Connection]] = defaultdict(deque)
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._open: set[_Connection] = set()
        self._names = names
        self.closed = False

    async def request(self, ip: str, port: int, method: str, path: str, *,
                      headers: Mapping[str, str] | None = None, query: Mapping[str, str] | None = None,
                      body: bytes | None = None, timeout: float | None = None) -> Answer:
        """Send one request as ``backend_request`` would; its whole answer.
        Raises BackendConnectError, TimeoutError, or another ConnectionError
        (OSError) when no answer came; ValueError for a header that would
        inject a line."""
        if self.closed:
            raise ConnectionError("backend client closed")
        wire_method, target, sent = self._prepare(ip, port, method, path, headers, query)
        request = _serialize(wire_method, target, host_port(ip, port), sent, body)
        node = (ip, port)
        slots = self._slots.get(node)
        if slots is None:
            slots = self._slots[node] = asyncio.Semaphore(self._per_host)
        async with slots:
            conn = self._idle_connection(node)
            if conn is not None:
                try:
                    return await self._exchange(conn, node, request, wire_method, timeout)
                except (ConnectionResetError, BrokenPipeError, BadAnswer):
                    if conn.got_bytes:
                        raise
                    # The server closed the idle connection as we sent: once more, afresh.
            conn = await self._connect(ip, port)
            return await self._exchange(conn, node, request, wire_method, timeout)

    def _prepare(self, ip: str, port: int, method: str, path: str, headers: Mapping[str, str] | None,
                 query: Mapping[str, str] | None) -> tuple[str, str, dict[str, str]]:
        sent, wire_method = outgoing(method, path, headers)
        target = backend_url(ip, port, path, query).raw_path_qs if query else path
        sent[SIGNATURE_HEADER] = self._key.sign(verb(wire_method, sent), target, self._clock())
        return wire_method, target, sent

    def _idle_connection(self, node: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(node)
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to have been closed
            if not conn.closed and now - conn.idle_since < self._keepalive:
                return conn
            self._discard(conn)
        return None

    async def _connect(self, ip: str, port: int) -> _Connection:
        """A new connection to the node ``ip`` names (an address, or a name
        the process's ``Resolver`` knows), its addresses tried in order."""
        try:
            async with asyncio.timeout(self._timeouts.conn_timeout):
                conn = await self._connect_any(await self._names.addresses(ip), port)
        except TimeoutError:
            raise BackendConnectError(f"no connection to {host_port(ip, port)} within "
                                      f"{self._timeouts.conn_timeout} s") from None
        except OSError as exc:
            raise BackendConnectError(f"cannot connect to {host_port(ip, port)}: {exc}") from exc
        self._open.add(conn)
        return conn

    @staticmethod
    async def _connect_any(addresses: tuple[str, ...], port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        for address in addresses[:-1]:
            try:
                return (await loop.create_connection(_Connection, address, port))[1]
            except OSError:
                continue  # the next address; the last one's error is the caller's
        return (await loop.create_connection(_Connection, addresses[-1], port))[1]

    async def _exchange(self, conn: _Connection, node: tuple[str, int], request: bytes, method: str,
                        timeout: float | None) -> Answer:
        answer = conn.send(request, method)
        limit = self._timeouts.node_timeout if timeout is None else timeout
        timer = asyncio.get_running_loop().call_later(limit, _expire, answer, limit)
        try:
            result = await answer
        except BaseException:
            self._discard(conn)  # an answer may still be on its way: never reuse it
            raise
        finally:
            timer.cancel()
        if conn.closed:
            self._discard(conn)
        else:
            conn.idle_since = time.monotonic()
            self._idle[node].append(conn)
        return result

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._open.discard(conn)

    async def __aenter__(self) -> WholeAnswerClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every connection; requests still running fail."""
        self.closed = True
        for conn in list(self._open):
            self._discard(conn)
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports' close callbacks run


def _expire(answer: asyncio.Future[Answer], limit: float) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError(f"no whole answer within {limit} s"))


def _serialize(method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
    """The request's bytes, as aiohttp would write them: UTF-8 headers, a
    name given twice in different cases sent once with the last value, a
    ``Host`` and a ``Content-Length`` unless given (0 for a bodiless write,
    as aiohttp adds); ValueError for a control character in a header, or a
    given length that is not the body's."""
    lines: dict[str, str] = {}  # lower-case name -> its line
    checked = [target]
    for name, value in headers.items():
        checked.append(name)
        checked.append(value)
        lines[name.lower()] = f"{name}: {value}\r\n"
    if _FORBIDDEN_HEADER_CHARS.search("\t".join(checked)):
        raise ValueError("Forbidden control character in a backend request header")
    if "host" not in lines:
        lines["host"] = f"Host: {host}\r\n"
    size = len(body) if body is not None else 0
    given_length = lines.get("content-length")
    if given_length is not None:
        if given_length.partition(":")[2].strip() != str(size):
            raise ValueError(f"{given_length.strip()!r} is not the body's {size} bytes")
    elif body is not None or method not in _BODILESS_METHODS:
        lines["content-length"] = f"Content-Length: {size}\r\n"
    head = f"{method} {target} HTTP/1.1\r\n{''.join(lines.values())}\r\n".encode("utf-8")
    return head + body if body else head
