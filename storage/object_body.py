"""Sending an object's body from its ``.data``: zero-copy when it can.

Why this shape: a GET of a large object was bounded by the copies and the
event-loop work per chunk (a new ``bytes`` per disk read, the whole-body
check run on the loop thread, the status line joined with the
first chunk). Now:

* One thread hop per ``BODY_CHUNK`` reads the chunk *and* feeds the
  whole-body check (``storage.quarantine.BodyVerifier``: the stored CRC-32,
  or the md5 of an object stored without one) there, so the
  digest runs beside the loop (hashlib and zlib let go of the GIL) instead of in it.
* A single piece (a whole body or one range) goes out with ``os.sendfile``
  from the open ``.data`` to the client socket: the kernel moves the bytes
  and no Python object holds them. When the body must be checked, the thread
  reads each chunk into one reused buffer (``readinto``; it also warms the
  page cache, so the loop's ``sendfile`` does not wait on the disk) and
  ``sendfile`` sends it only after the check passed: a corrupt body is still
  cut before its last chunk.
* Anything else (a multipart range, a transport that is not a plain socket
  or holds unsent bytes, a ``sendfile`` the kernel refuses, or the
  ``[storage] sendfile = false`` setting) takes the fallback: the thread
  reads and checks, the loop writes.

``sendfile`` writes to a ``dup`` of the socket: if the client goes away and
the loop closes its descriptor meanwhile, the number cannot be reused for
another connection under our feet; the copy just fails with EPIPE.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from storage.diskfile import ObjectLocation, ObjectState, iter_body, open_object
from storage.quarantine import BodyMismatch, BodyVerifier, whole_body_verifier

log = logging.getLogger(__name__)

# Bytes per thread hop when sending a body: large enough that the hop, the
# checksum call and the sendfile call are paid rarely, small enough that a body
# found corrupt is cut after little was read for nothing.
BODY_CHUNK = 1024 * 1024
# Smaller pieces are read and written: below this, one hop and one write
# (the status line joined with the body) cost less than a ``dup``, a write
# of the headers alone and a ``sendfile``.
SENDFILE_MIN = 64 * 1024
# Errors meaning "this socket or file cannot be sendfile'd": fall back.
_NO_SENDFILE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSOCK)

Run = Callable[..., Awaitable[Any]]  # DeviceIO.run bound to the device


class SendfileRefused(OSError):
    """The kernel will not ``sendfile`` to this socket; nothing was sent."""


class Truncated(ConnectionResetError):
    """The ``.data`` is shorter than its metadata says: the status is already
    sent, so cutting the connection is the only honest signal left."""


def read_checked(fd: int, offset: int, length: int, verifier: BodyVerifier | None) -> bytes:
    """Blocking: ``length`` bytes at ``offset``, fed to ``verifier`` (which
    raises ``BodyMismatch`` before a corrupt body's last chunk is sent)."""
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise Truncated("object truncated on disk")
    if verifier is not None:
        verifier.feed(data)
    return data


@dataclass(frozen=True)
class OpenedRead:
    """An object opened for a GET or HEAD in one thread hop (``open_for_read``).

    ``state.fd`` is None when the read needs no more of the file: a HEAD,
    or a small body already read into ``body`` (or failed: ``body_error``,
    raised where reading it would have raised, once the status is sent).
    """

    state: ObjectState
    body: bytes | None = None
    body_error: Truncated | BodyMismatch | None = None


def open_for_read(location: ObjectLocation, method: str, whole_up_to: int) -> OpenedRead:
    """Blocking: the object's state for a read; a HEAD's descriptor closed
    here, and a GET of the whole of a body of at most ``whole_up_to``
    bytes read and checked here too.

    Why: each thread hop, and each call on the loop that lets go of the
    GIL (``close``), hands the interpreter between threads; a small GET
    paid three (open, read, close on the loop), a HEAD two. Now one each.
    """
    state = open_object(location)
    if state.fd is None or state.metadata is None:
        return OpenedRead(state)
    length = state.metadata.content_length or 0
    if method == "GET" and length <= whole_up_to:
        verifier = whole_body_verifier(method, state.metadata, [(0, length, None)])
        try:
            body = read_checked(state.fd, 0, length, verifier)
        except (Truncated, BodyMismatch) as exc:
            return OpenedRead(state.closed(), body_error=exc)
        except BaseException:
            state.close()
            raise
        return OpenedRead(state.closed(), body)
    if method == "HEAD":
        return OpenedRead(state.closed())
    return OpenedRead(state)


def check_into(fd: int, offset: int, length: int, verifier: BodyVerifier, buffer: bytearray) -> None:
    """Blocking: read ``length`` bytes at ``offset`` into the reused
    ``buffer`` (no new object per chunk) and feed them to ``verifier``."""
    view = memoryview(buffer)[:length]
    got = 0
    while got < length:
        count = os.preadv(fd, [view[got:]], offset + got)
        if count == 0:
            raise Truncated("object truncated on disk")
        got += count
    verifier.feed(view)


def socket_fd(request: web.Request) -> int | None:
    """A ``dup`` of the client socket when ``sendfile`` may write to it
    now: a plain socket with nothing left in the transport's buffer (or
    the bytes would go out of order); None otherwise."""
    transport = request.transport
    if transport is None or transport.is_closing() or transport.get_write_buffer_size():
        return None
    if transport.get_extra_info("sslcontext") is not None:
        return None
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    try:
        return os.dup(sock.fileno())
    except OSError:
        return None


async def _writable(fd: int, timeout: float) -> None:
    """Until ``fd`` can take more bytes; ``TimeoutError`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(fd, wake)
    try:
        async with asyncio.timeout(timeout):
            await ready
    finally:
        loop.remove_writer(fd)


async def sendfile_range(out_fd: int, in_fd: int, offset: int, count: int, timeout: float) -> None:
    """Send ``count`` bytes of ``in_fd`` at ``offset`` to the non-blocking
    socket ``out_fd``, waiting (at most ``timeout`` each time) while its
    buffer is full. ``OSError`` with one of ``_NO_SENDFILE`` on the first
    call is ``SendfileRefused``: nothing was sent."""
    first = True
    while count > 0:
        try:
            sent = os.sendfile(out_fd, in_fd, offset, count)
        except BlockingIOError:
            first = False
            try:
                await _writable(out_fd, timeout)
            except TimeoutError:
                raise ConnectionResetError(errno.ETIMEDOUT, "client took no data for too long") from None
            continue
        except BrokenPipeError as exc:
            raise ConnectionResetError(exc.errno, "client gone") from None  # as aiohttp's writes say it
        except OSError as exc:
            if first and exc.errno in _NO_SENDFILE:
                raise SendfileRefused(exc.errno, exc.strerror) from None
            raise
        first = False
        if sent == 0:
            raise Truncated("object truncated on disk")
        offset += sent
        count -= sent


class BodySender:
    """Sends pieces of one open ``.data`` to one client (see the module)."""

    def __init__(self, request: web.Request, response: web.StreamResponse, run: Run, fd: int,
                 verifier: BodyVerifier | None, timeout: float, use_sendfile: bool) -> None:
        self.request = request
        self.response = response
        self.run = run
        self.fd = fd
        self.verifier = verifier
        self.timeout = timeout
        self.use_sendfile = use_sendfile

    async def send(self, start: int, end: int) -> None:
        """``[start, end)`` of the body: by ``sendfile`` when possible."""
        if self.use_sendfile:
            start = await self._sendfile(start, end)
        for offset, length in iter_body(start, end, BODY_CHUNK):
            await self.response.write(await self.run(read_checked, self.fd, offset, length, self.verifier))

    async def _sendfile(self, start: int, end: int) -> int:
        """Send what ``sendfile`` can; returns the offset the fallback goes on from."""
        out_fd = socket_fd(self.request)
        if out_fd is None:
            return start
        checks = _Prefetch(self.run, self.fd, self.verifier)
        try:
            pieces = list(iter_body(start, end, BODY_CHUNK))
            for index, (offset, length) in enumerate(pieces):
                buffer = await checks.take(offset, length)
                following = pieces[index + 1] if index + 1 < len(pieces) else None
                # The check of the next chunk runs beside this chunk's sendfile;
                # for the first chunk only once sendfile took it, since a
                # refused one sends on by reads, which feed the check in order.
                if following is not None and index > 0:
                    checks.start(*following)
                try:
                    await sendfile_range(out_fd, self.fd, offset, length, self.timeout)
                except SendfileRefused as exc:
                    if index:
                        raise
                    log.info("sendfile refused; reading instead", extra={"errno": exc.errno})
                    if buffer is None:
                        return offset
                    # This chunk is checked already (a digest cannot take it back): send it from the buffer.
                    await self.response.write(bytes(buffer[:length]))
                    return offset + length
                _count_sent(self.response, length)
                if following is not None and index == 0:
                    checks.start(*following)
            return end
        finally:
            await checks.settle()
            os.close(out_fd)


class _BufferPool:
    """``BODY_CHUNK`` buffers lent to the whole-body checks and given back: a new
    1 MiB ``bytearray`` per GET costs its zero-fill and a page fault per
    4 KiB, more than the read into it. Used from the loop thread only (a
    buffer is written by one device thread while it is lent)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.free: list[bytearray] = []

    def take(self) -> bytearray:
        return self.free.pop() if self.free else bytearray(BODY_CHUNK)

    def give(self, buffer: bytearray) -> None:
        if len(self.free) < self.keep:
            self.free.append(buffer)


# Enough for the GETs a daemon checks at once; beyond that, buffers are made and dropped.
_POOL = _BufferPool(keep=16)


class _Prefetch:
    """The whole-body check of the next chunk, run in the device's thread
    while the loop sends this one: two pooled buffers, used in turn, so a
    large GET's check and its sendfile overlap instead of taking turns."""

    def __init__(self, run: Run, fd: int, verifier: BodyVerifier | None) -> None:
        self.run = run
        self.fd = fd
        self.verifier = verifier
        self.buffers: list[bytearray] = []
        self.turn = 1  # the first ``start`` takes buffer 0
        self.pending: tuple[int, asyncio.Future[Any]] | None = None

    def start(self, offset: int, length: int) -> None:
        if self.verifier is None:
            return
        self.turn ^= 1
        while len(self.buffers) <= self.turn:
            self.buffers.append(_POOL.take())
        buffer = self.buffers[self.turn]
        self.pending = (offset, asyncio.ensure_future(
            self.run(check_into, self.fd, offset, length, self.verifier, buffer)))

    async def take(self, offset: int, length: int) -> bytearray | None:
        """The checked buffer of the chunk at ``offset`` (None: no check)."""
        if self.verifier is None:
            return None
        if self.pending is None or self.pending[0] != offset:
            self.start(offset, length)
        assert self.pending is not None
        # Shielded: a cancelled request still waits (in ``settle``) for the
        # thread reading its file before the file is closed.
        await asyncio.shield(self.pending[1])
        self.pending = None
        return self.buffers[self.turn]

    async def settle(self) -> None:
        """Wait for a check still running (the caller closes the file
        next), then give the buffers back."""
        if self.pending is not None:
            _, future = self.pending
            self.pending = None
            await asyncio.gather(future, return_exceptions=True)
        for buffer in self.buffers:
            _POOL.give(buffer)
        self.buffers = []


def _count_sent(response: web.StreamResponse, count: int) -> None:
    """Bytes sent around aiohttp still count in its ``body_length`` (the
    access log's bytes out): its writer is the one place it is kept."""
    writer = response._payload_writer  # noqa: SLF001 - aiohttp has no public setter
    if writer is not None:
        writer.output_size += count
        writer.buffer_size += count
