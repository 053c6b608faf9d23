"""Streaming an object to the client, resuming on another replica when the
serving backend fails mid-body.

Resuming is possible for a whole body (200) or a single range (206 with a
Content-Range): the next replica is asked for the bytes not yet sent, with
``If-Match`` on the ETag so that only the same object can continue the
stream. A multi-range answer cannot be resumed; then the client connection
is cut, so that a short body is never mistaken for a complete one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import aiohttp
from aiohttp import web

from martlet.digest import BodyDigest
from proxy.fanout import NODE_ERRORS, Names, ReadAnswer, note_error, read_first
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


async def _resume(state: ProxyState, answer: ReadAnswer, part: int, names: Names, ring: Ring,
                  headers: Mapping[str, str], first: int, last: int, etag: str
                  ) -> tuple[aiohttp.ClientResponse, Device] | None:
    """Another replica's answer for bytes ``first..last`` of the same object."""
    retry = {k: v for k, v in headers.items() if k.lower() not in ("range", "if-match")}
    retry["Range"] = f"bytes={first}-{last}"
    retry["If-Match"] = etag
    again = await read_first(state, ring, part, "GET", names, retry, nodes=answer.nodes)
    if again.response is None:
        return None
    if again.response.status != 206:
        again.response.release()
        return None
    assert again.node is not None  # an answer with a response names its node
    return again.response, again.node


def _body_digest(method: str, status: int, headers: Mapping[str, str], length: int | None) -> BodyDigest | None:
    """A digest for a whole plain object's body (not ranges, not manifests)."""
    etag = headers.get("ETag", "").strip('"').lower()
    if method != "GET" or status != 200 or length is None or not _MD5_HEX.match(etag):
        return None
    if "X-Object-Manifest" in headers or "X-Static-Large-Object" in headers:
        return None
    return BodyDigest(etag, length)


async def stream_object(request: web.Request, state: ProxyState, answer: ReadAnswer, part: int,
                        names: Names, ring: Ring, headers: Mapping[str, str],
                        extra: Mapping[str, str]) -> web.StreamResponse:
    response = answer.response
    assert response is not None
    out = web.StreamResponse(status=response.status, headers=backend_response_headers(response.headers))
    out.headers.update(extra)
    length = response.headers.get("Content-Length")
    if length is not None:
        out.content_length = int(length)
    status, first_headers = response.status, response.headers
    etag = response.headers.get("ETag", "")
    sent = 0
    node = answer.node
    assert node is not None  # as response is not None
    # A backend cut mid-body is resumed on another replica, but the bytes sent
    # before the cut may have been the corrupt ones that made it cut: check
    # the whole body's md5 and cut the client before the last chunk rather
    # than complete a body that does not match its ETag.
    verify = _body_digest(request.method, status, response.headers, out.content_length)
    try:
        await out.prepare(request)
        if request.method == "HEAD":
            await out.write_eof()
            return out
        while True:
            try:
                async for chunk in response.content.iter_chunked(state.settings.chunk_size):
                    if verify is not None and verify.check(chunk) is not None:
                        log.error("body does not match its ETag; cutting", extra={"path": request.path})
                        if request.transport is not None:
                            request.transport.close()
                        return out
                    await out.write(chunk)
                    sent += len(chunk)
                break
            except NODE_ERRORS as exc:
                note_error(state, node, exc)
                response.release()
                span = resume_range(status, first_headers, sent)
                resumed = None
                if span is not None and etag and span[0] <= span[1]:
                    resumed = await _resume(state, answer, part, names, ring, headers, *span, etag)
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
