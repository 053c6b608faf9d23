"""An object read a replica answered, and its streaming to the client,
resumed on another replica when the serving backend fails mid-body.

The object controller answers a GET or HEAD with an ``ObjectStream``: the
chosen replica's answer, still open, not yet sent. Its status and headers
can be looked at on the way out (a feature may answer something else, as
large objects do for a manifest, and then ``close`` it); the edge sends it
(``proxy.pipeline.respond``).

Resuming is possible for a whole body (200) or a single range (206 with a
Content-Range): the next replica is asked for the bytes not yet sent, with
``If-Match`` on the ETag so that only the same object can continue the
stream. A multi-range answer cannot be resumed; then the client connection
is cut, so that a short body is never mistaken for a complete one.

A whole body is never completed with bytes that do not match its ETag.
The object server checks the md5 of every whole body it sends and cuts the
stream before the last chunk when it does not match, so a body served by
one replica needs no second md5 here. A resume is the one case that
replica cannot vouch for: the bytes sent before the cut may be the corrupt
ones that made the first replica cut. So the proxy keeps a crc32 of what it
sent (an eighth of md5's cost), asks the next replica for the *whole* body
(which that replica md5-checks in turn), reads its first ``sent`` bytes
without sending them, and goes on only when their crc32 is the one it
sent; otherwise it tries the next replica, and cuts the client when none is
left. The price, re-reading the sent prefix, is paid only on a resume.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from martlet.body import iter_pieces
from martlet.digest import Crc32
from martlet.swift_path import SwiftPath
from proxy.fanout import NODE_ERRORS, ReadAnswer, ReadResponse, note_error, read_first
from proxy.headers import backend_response_headers
from proxy.state import ProxyState
from ring import Device, Ring

log = logging.getLogger(__name__)

_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def resume_range(status: int, headers: Mapping[str, str], sent: int) -> tuple[int, int] | None:
    """(first, last) byte still to fetch after ``sent`` bytes, or None."""
    if status == 200:
        length = headers.get("Content-Length")
        if length is None or not length.isdigit():
            return None
        return sent, int(length) - 1
    if status == 206:
        match = _CONTENT_RANGE.match(headers.get("Content-Range", ""))
        if match is None:
            return None  # multipart/byteranges
        return int(match.group(1)) + sent, int(match.group(2))
    return None


async def _resume(state: ProxyState, answer: ReadAnswer, part: int, path: SwiftPath, ring: Ring,
                  headers: Mapping[str, str], first: int, last: int, etag: str
                  ) -> tuple[ReadResponse, Device] | None:
    """Another replica's answer for bytes ``first..last`` of the same object."""
    retry = {k: v for k, v in headers.items() if k.lower() not in ("range", "if-match")}
    retry["Range"] = f"bytes={first}-{last}"
    retry["If-Match"] = etag
    again = await read_first(state, ring, part, "GET", path, retry, nodes=answer.nodes)
    if again.response is None:
        return None
    if again.response.status != 206:
        again.response.release()
        return None
    assert again.node is not None  # an answer with a response names its node
    return again.response, again.node


class PrefixMismatch(Exception):
    """A resumed replica's copy of the bytes already sent is not what was sent."""


def sent_crc(method: str, status: int, headers: Mapping[str, str], length: int | None) -> Crc32 | None:
    """A ``Crc32`` of a whole object's body as it is sent, to check the copy
    of those bytes a replica resuming the stream has (see the module
    docstring): for a whole body (not a range), which the
    object server md5-checks as it sends it (a manifest's too: sent as it
    is, a manifest is the object it is stored as); None when the body is
    not one a replica checks."""
    etag = headers.get("ETag", "").strip('"').lower()
    if method != "GET" or status != 200 or length is None or not _MD5_HEX.match(etag):
        return None
    return Crc32()


async def skip_prefix(response: ReadResponse, length: int, expected_crc: int, chunk_size: int) -> None:
    """Read the first ``length`` bytes of ``response`` (not to be sent
    again); raise ``PrefixMismatch`` unless their crc32 is ``expected_crc``."""
    check = Crc32()
    left = length
    while left > 0:
        chunk = await response.content.read(min(chunk_size, left))
        if not chunk:
            raise PrefixMismatch("replica's body ended before the sent prefix")
        check.update(chunk)
        left -= len(chunk)
    if check.crc != expected_crc:
        raise PrefixMismatch("replica's copy of the sent bytes differs")


@dataclass
class ObjectStream:
    """A replica's answer to an object GET or HEAD, open and not yet sent.

    ``sent`` are the conditions and Range passed to the backend, which it
    judged against the object it holds.
    """

    state: ProxyState
    path: SwiftPath
    ring: Ring
    part: int
    answer: ReadAnswer
    sent: Mapping[str, str]

    @property
    def response(self) -> ReadResponse:
        assert self.answer.response is not None  # an ObjectStream is made from a found answer
        return self.answer.response

    def close(self) -> None:
        """Release the backend answer without sending it."""
        self.response.release()

    async def send(self, request: web.Request) -> web.StreamResponse:
        """Stream the answer to the client, resuming on another replica."""
        state, answer = self.state, self.answer
        response = self.response
        out = web.StreamResponse(status=response.status, headers=backend_response_headers(response.headers))
        length = response.headers.get("Content-Length")
        if length is not None:
            out.content_length = int(length)
        status, first_headers = response.status, response.headers
        etag = response.headers.get("ETag", "")
        sent = 0
        node = answer.node
        assert node is not None  # as response is not None
        # None for a range or a HEAD; else what a resumed replica must match.
        crc = sent_crc(request.method, status, response.headers, out.content_length)
        skip = 0  # bytes of the current response already sent (from a replica before)
        chunk_size = state.settings.chunk_size
        try:
            await out.prepare(request)
            if request.method == "HEAD":
                await out.write_eof()
                return out
            while True:
                try:
                    if skip:
                        assert crc is not None  # a whole body is resumed from its start only
                        await skip_prefix(response, skip, crc.crc, chunk_size)
                    # Each piece as the network gave it: reading ``chunk_size``
                    # at a time would join the pieces buffered meanwhile (a copy).
                    async for chunk in iter_pieces(response.content):
                        if crc is not None:
                            crc.update(chunk)
                        await out.write(chunk)
                        sent += len(chunk)
                    break
                except (*NODE_ERRORS, PrefixMismatch) as exc:
                    if isinstance(exc, PrefixMismatch):
                        log.error("resumed replica does not have the bytes sent", extra={"path": request.path})
                    else:
                        note_error(state, node, exc)
                    response.release()
                    span = resume_range(status, first_headers, sent)
                    resumed = None
                    if span is not None and etag and span[0] <= span[1]:
                        if crc is not None:
                            span, skip = (0, span[1]), sent
                        resumed = await _resume(state, answer, self.part, self.path, self.ring, self.sent,
                                                *span, etag)
                    if resumed is None:
                        log.warning("read failed mid-stream", extra={"sent": sent, "path": request.path})
                        if request.transport is not None:
                            request.transport.close()
                        return out
                    log.info("read resumed on another replica", extra={"sent": sent})
                    response, node = resumed
            await out.write_eof()
            return out
        finally:
            response.release()
