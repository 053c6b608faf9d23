"""The object server: backend PUT/GET/HEAD/DELETE/POST of objects.

Every request names its storage policy (``X-Backend-Storage-Policy-Index``,
``storage.object_headers.request_policy``), which picks the object
directories (``objects-N``) and goes on with the container updates.

Handlers are thin: they parse headers (``storage.object_headers``), decide
with pure rules (timestamps, ``martlet.conditional``, ``martlet.ranges``), and
run every blocking file operation in the device's thread pool
(``storage.devices.DeviceIO``). Bodies are streamed in ``disk_chunk_size``
pieces both ways, so memory stays flat whatever the object's size.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from martlet import ranges as http_ranges
from martlet.body import read_exactly, read_piece
from martlet.conditional import evaluate, if_range_holds, last_modified_seconds, parse_conditions
from martlet.errors import (
    BadRequest,
    ClientDisconnect,
    Conflict,
    LengthRequired,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    RangeNotSatisfiable,
    Unprocessable,
)
from martlet.timestamp import Timestamp
from storage.async_pending import PendingUpdate, send_or_queue
from storage.container_updates import (
    container_targets,
    container_update_overrides,
    container_updates,
    expirer_task_updates,
    post_container_updates,
    task_targets,
)
from storage.diskfile import (
    DATA,
    META,
    TOMBSTONE,
    IOV_MAX,
    DiskFileWriter,
    ObjectLocation,
    ObjectState,
    object_name,
    open_object,
    read_file_metadata,
    write_marker,
)
from storage.metadata import CorruptObject, ObjectMetadata
from storage.object_headers import (
    DEFAULT_CONTENT_TYPE,
    is_expired,
    normalize_etag,
    object_headers,
    parse_delete_at,
    parse_if_delete_at,
    request_policy,
    request_timestamp,
    sys_meta_from,
    user_meta_from,
)
from storage.context import StorageContext
from storage.object_body import BODY_CHUNK, SENDFILE_MIN, BodySender, OpenedRead, Truncated, open_for_read
from storage.paths import EntityPath
from storage.quarantine import BodyMismatch, quarantine_hash_dir, whole_body_verifier

log = logging.getLogger(__name__)

# What reading a request body raises when the client goes away mid-body.
_BODY_ERRORS = (ConnectionResetError, RequestPayloadError, aiohttp.ClientPayloadError, HttpProcessingError)

Written = TypeVar("Written")


def _log_corrupt(location: ObjectLocation, exc: CorruptObject) -> None:
    log.warning("corrupt object", extra={"hash_dir": str(location.hash_dir), "error": exc.reason})


def _is_live(state: ObjectState) -> bool:
    """An object is there to read or overwrite: stored and not expired."""
    return state.exists and state.metadata is not None and not is_expired(state.metadata)


def _state_for_write(location: ObjectLocation) -> ObjectState:
    """Blocking: the object's state with no descriptor kept; a corrupt
    object counts as absent (a write replaces it)."""
    try:
        state = open_object(location)
    except CorruptObject as exc:
        _log_corrupt(location, exc)
        return ObjectState()
    return state.closed()


def _checked_write(location: ObjectLocation, check: Callable[[ObjectState], None],
                   write: Callable[[ObjectState], Written]) -> tuple[ObjectState, Written]:
    """Blocking: ``write(state)`` once ``check`` has passed the current state."""
    state = _state_for_write(location)
    check(state)
    return state, write(state)


class ObjectServer:
    """The ``object`` entity of the storage daemon (see ``storage.server``)."""

    def __init__(self, ctx: StorageContext) -> None:
        self.ctx = ctx
        self.conf = ctx.config.storage
        self._methods = {
            "PUT": self.put,
            "GET": self.get,
            "HEAD": self.get,
            "DELETE": self.delete,
            "POST": self.post,
        }

    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        method = self._methods.get(request.method)
        if method is None:
            raise MethodNotAllowed(f"{request.method} not allowed on objects")
        return await method(request, path)

    async def close(self) -> None:
        """Nothing to release: container updates in flight belong to requests."""

    # -- shared steps ------------------------------------------------------

    async def _open_for_read(self, request: web.Request, path: EntityPath, location: ObjectLocation) -> OpenedRead:
        """The object's state for a read (``close()`` it), and its body when
        a GET wants the whole of a small one (``open_for_read``)."""
        # Below SENDFILE_MIN a body is read and written anyway (``_stream``).
        whole_up_to = SENDFILE_MIN - 1 if "Range" not in request.headers else -1
        try:
            return await self.ctx.io.run(path.device, open_for_read, location, request.method, whole_up_to)
        except CorruptObject as exc:
            _log_corrupt(location, exc)
            raise

    async def _write_if(self, path: EntityPath, location: ObjectLocation, check: Callable[[ObjectState], None],
                        write: Callable[[ObjectState], Written]) -> tuple[ObjectState, Written]:
        """``write(state)`` if ``check(state)`` (which raises to refuse) lets
        it: the state read, the check and the write in one thread hop."""
        return await self.ctx.io.run(path.device, _checked_write, location, check, write)

    @staticmethod
    def _not_found(state: ObjectState) -> NotFound:
        """404; "deleted at T" carries T so the proxy can tell it from "never seen"."""
        stamp = state.tombstone_timestamp or state.data_timestamp
        headers = {"X-Backend-Timestamp": stamp.internal} if stamp else {}
        return NotFound(headers=headers)

    @staticmethod
    def _conflict(stamp: Timestamp) -> Conflict:
        return Conflict(headers={"X-Backend-Timestamp": stamp.internal})

    # -- PUT -----------------------------------------------------------------

    async def put(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        assert path.names.container is not None and path.names.obj is not None
        timestamp = request_timestamp(request.headers)
        expected_length = self._expected_length(request)
        expected_etag = normalize_etag(request.headers.get("ETag"))
        delete_at = parse_delete_at(request.headers.get("X-Delete-At"))
        container_targets(request.headers)  # 400 before anything is written
        task_targets(request.headers)
        container_update_overrides(request.headers)
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and if_none_match.strip() != "*":
            raise BadRequest("only If-None-Match: * is supported on PUT")
        policy = request_policy(request.headers, self.ctx.policies)
        location = self.ctx.object_location(path, policy)

        def check(state: ObjectState) -> None:
            if state.durable is not None and state.durable >= timestamp:
                raise self._conflict(state.durable)
            if if_none_match is not None and _is_live(state):
                raise PreconditionFailed("object exists", headers={"X-Backend-Timestamp": str(state.durable)})

        name = object_name(path.names.account, path.names.container, path.names.obj)

        def describe(writer: DiskFileWriter) -> ObjectMetadata:
            """The object's metadata once its body is written; 422 when the
            body is not what the client's ETag said."""
            if expected_etag is not None and expected_etag != writer.etag:
                raise Unprocessable("ETag does not match the body")
            return ObjectMetadata(
                name=name,
                timestamp=timestamp,
                etag=writer.etag,
                content_length=writer.bytes_written,
                content_type=request.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE,
                delete_at=delete_at,
                user_meta=user_meta_from(request.headers),
                sys_meta=sys_meta_from(request.headers, put=True),
            )

        writer = DiskFileWriter(location, fsync=self.conf.fsync)
        if expected_length is not None and expected_length <= self.conf.disk_chunk_size:
            # A small body is read first, then checked against what is
            # stored and written in one thread hop, not one per step (state,
            # open, write, commit, clean up).
            body = await read_exactly(request, self.conf.client_timeout, expected_length)
            state, metadata = await self._write_if(path, location, check,
                                                   lambda _state: writer.store(body, describe, DATA))
        else:
            state, _ = await self._write_if(path, location, check, lambda _state: writer.open())
            try:
                await self._receive_body(request, path.device, writer)
                if expected_length is not None and writer.bytes_written != expected_length:
                    raise ClientDisconnect("body shorter than Content-Length")
                metadata = describe(writer)
                await self.ctx.io.run(path.device, writer.commit, metadata, DATA)
            finally:
                if writer.fd is not None or writer.tmp_path is not None:
                    await self.ctx.io.run(path.device, writer.abort)
        # The container row and the expirer's task (if any) go out together.
        await self._send_updates(path, container_updates(request.headers, path, "PUT", timestamp, metadata, policy)
                                 + self._expirer_queue(request, path, timestamp, state, delete_at, policy))
        return web.Response(status=201, headers={"ETag": writer.etag})

    @staticmethod
    def _expected_length(request: web.Request) -> int | None:
        if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return None
        if request.content_length is None:
            raise LengthRequired("Content-Length or chunked transfer encoding required")
        return request.content_length

    async def _receive_body(self, request: web.Request, device: str, writer: DiskFileWriter) -> None:
        """Stream the body to ``writer`` in ``BODY_CHUNK`` batches: the
        pieces the network gave are gathered (``read_piece``: never joined,
        no copy) and written, md5 included, with one thread hop and one
        ``writev`` per batch."""
        chunk_size = BODY_CHUNK
        pending: list[bytes] = []
        size = 0
        while True:
            data = await read_piece(request, self.conf.client_timeout)
            if data:
                pending.append(data)
                size += len(data)
            if size >= chunk_size or len(pending) >= IOV_MAX or (not data and pending):
                await self.ctx.io.run(device, writer.write_chunks, pending)
                pending, size = [], 0
            if not data:
                return

    # -- GET / HEAD -----------------------------------------------------------

    async def get(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        location = self.ctx.object_location(path, request_policy(request.headers, self.ctx.policies))
        opened = await self._open_for_read(request, path, location)
        state = opened.state
        try:
            return await self._serve(request, path, opened)
        except BodyMismatch as exc:
            # Bytes no longer match the ETag: move the object aside (replication
            # restores it) and cut the connection before the last chunk.
            bad = f"{state.data_timestamp.internal}.data" if state.data_timestamp else None
            await self.ctx.io.run(path.device, quarantine_hash_dir, location.hash_dir, str(exc), bad)
            raise
        except Truncated:
            log.error("object shorter than its metadata", extra={"path": request.path})
            raise
        finally:
            state.close()

    async def _serve(self, request: web.Request, path: EntityPath, opened: OpenedRead) -> web.StreamResponse:
        state = opened.state
        conditions = parse_conditions(request.headers)
        meta = state.metadata
        if not _is_live(state):
            if conditions.if_match is not None:
                raise PreconditionFailed()
            raise self._not_found(state)
        assert meta is not None
        headers = object_headers(state)
        last_modified = last_modified_seconds(meta.timestamp.seconds)
        verdict = evaluate(conditions, meta.etag, last_modified, request.method)
        if verdict is not None:
            # 304 and 412 describe the object as a 200 would, without its body (Swift's).
            return web.Response(status=verdict, headers=headers)
        total = meta.content_length or 0
        range_header = request.headers.get("Range")
        if not if_range_holds(request.headers.get("If-Range"), meta.etag, last_modified):
            range_header = None  # the client's copy is stale: the whole object
        try:
            byte_ranges = http_ranges.ranges_for(range_header, total)
        except RangeNotSatisfiable as exc:
            described = {k: v for k, v in headers.items() if k != "Content-Type"}
            raise RangeNotSatisfiable(headers={**described, **exc.headers}) from None
        response = web.StreamResponse(status=200 if byte_ranges is None else 206, headers=headers)
        if byte_ranges is None:
            response.content_length = total
            await self._stream(request, response, path.device, opened, [(0, total, None)])
        elif len(byte_ranges) == 1:
            only = byte_ranges[0]
            response.headers["Content-Range"] = only.content_range(total)
            response.content_length = only.length
            await self._stream(request, response, path.device, opened, [(only.start, only.end + 1, None)])
        else:
            boundary = uuid.uuid4().hex
            ctype = headers["Content-Type"]
            response.content_type = http_ranges.multipart_content_type(boundary)
            response.content_length = http_ranges.multipart_length(boundary, ctype, byte_ranges, total)
            parts = []
            for index, byte_range in enumerate(byte_ranges):
                prefix = (http_ranges.part_separator() if index else b"") + http_ranges.part_header(
                    boundary, ctype, byte_range, total
                )
                parts.append((byte_range.start, byte_range.end + 1, prefix))
            await self._stream(request, response, path.device, opened, parts, http_ranges.closing_delimiter(boundary))
        return response

    async def _stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        device: str,
        opened: OpenedRead,
        parts: Sequence[tuple[int, int, bytes | None]],
        trailer: bytes = b"",
    ) -> None:
        """Send ``[start, end)`` pieces of the .data, each after its prefix
        (``storage.object_body``: sendfile for a single piece), or the whole
        body ``open_for_read`` read with the state (only read when no Range
        was asked: ``parts`` is then the whole), or raise where that read failed."""
        await response.prepare(request)
        if request.method == "HEAD":
            await response.write_eof()
            return
        if opened.body_error is not None:
            raise opened.body_error
        if opened.body is not None:
            await response.write_eof(opened.body)
            return
        state = opened.state
        assert state.fd is not None
        verifier = whole_body_verifier(request.method, state.metadata, parts)
        run = functools.partial(self.ctx.io.run, device)
        sender = BodySender(request, response, run, state.fd, verifier, self.conf.client_timeout,
                            use_sendfile=self.conf.sendfile and len(parts) == 1 and not parts[0][2]
                            and parts[0][1] - parts[0][0] >= SENDFILE_MIN)
        for start, end, prefix in parts:
            if prefix:
                await response.write(prefix)
            await sender.send(start, end)
        if trailer:
            await response.write(trailer)
        await response.write_eof()

    # -- DELETE ---------------------------------------------------------------

    async def delete(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        assert path.names.container is not None and path.names.obj is not None
        timestamp = request_timestamp(request.headers)
        if_delete_at = parse_if_delete_at(request.headers.get("X-If-Delete-At"))
        container_targets(request.headers)  # 400 before anything is written
        policy = request_policy(request.headers, self.ctx.policies)
        location = self.ctx.object_location(path, policy)

        def check(state: ObjectState) -> None:
            if if_delete_at is not None:
                # First: an expirer's DELETE of an object overwritten since
                # is a 412 (the task is done), not a 409.
                self._check_if_delete_at(state, if_delete_at)
            if state.durable is not None and state.durable >= timestamp:
                raise self._conflict(state.durable)

        metadata = ObjectMetadata(name=object_name(path.names.account, path.names.container, path.names.obj), timestamp=timestamp)
        state, _ = await self._write_if(path, location, check,
                                        lambda _state: write_marker(location, metadata, TOMBSTONE, self.conf.fsync))
        existed = _is_live(state)
        await self._update_containers(request, path, "DELETE", timestamp, metadata, policy)
        if not existed:
            raise self._not_found(ObjectState(tombstone_timestamp=timestamp))
        return web.Response(status=204)

    def _check_if_delete_at(self, state: ObjectState, if_delete_at: Timestamp) -> None:
        """A DELETE with ``X-If-Delete-At`` (the expirer's) removes only the
        object whose ``X-Delete-At`` it names, expired or not: 404 when
        there is no object, 412 when the times differ."""
        if not state.exists or state.metadata is None:
            raise self._not_found(state)
        if Timestamp.parse(state.metadata.delete_at or 0) != if_delete_at:
            raise PreconditionFailed("X-If-Delete-At and X-Delete-At do not match")

    # -- POST -----------------------------------------------------------------

    async def post(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        assert path.names.container is not None and path.names.obj is not None
        timestamp = request_timestamp(request.headers)
        delete_at = parse_delete_at(request.headers.get("X-Delete-At"))
        container_targets(request.headers)  # 400 before anything is written
        task_targets(request.headers)
        location = self.ctx.object_location(path, request_policy(request.headers, self.ctx.policies))
        name = object_name(path.names.account, path.names.container, path.names.obj)

        def check(state: ObjectState) -> None:
            if not _is_live(state):
                raise self._not_found(state)
            newest = state.newest
            if newest is not None and newest >= timestamp:
                raise self._conflict(newest)

        def write(state: ObjectState) -> ObjectMetadata:
            assert state.metadata is not None  # check passed: live
            # A POST without a Content-Type keeps the one in force (an earlier
            # POST's, which a .meta holds until the next one replaces it).
            content_type = request.headers.get("Content-Type") or None
            if content_type is None and state.meta_timestamp is not None:
                content_type = state.metadata.content_type
            metadata = ObjectMetadata(
                name=name,
                timestamp=timestamp,
                content_type=content_type,
                delete_at=delete_at,
                user_meta=user_meta_from(request.headers),
                sys_meta=sys_meta_from(request.headers, put=False),
            )
            write_marker(location, metadata, META, self.conf.fsync)
            return metadata

        # The state read, checked and the .meta written in one thread hop.
        state, written = await self._write_if(path, location, check, write)
        content_type = written.content_type
        await self._update_containers_after_post(request, path, location, state, timestamp, content_type)
        await self._send_updates(path, self._expirer_queue(request, path, timestamp, state, delete_at, location.policy))
        return web.Response(status=202)

    async def _update_containers_after_post(
        self, request: web.Request, path: EntityPath, location: ObjectLocation, state: ObjectState,
        timestamp: Timestamp, content_type: str | None,
    ) -> None:
        """Every POST sends the row again, as Swift's: the data's size,
        etag and timestamp, the content type in force after it, and the
        POST's timestamp as ``X-Content-Type-Timestamp`` (see
        ``storage.db.container.ObjectUpdate``), which the listing shows as
        the object's last_modified (as the object's Last-Modified moves)."""
        if not container_targets(request.headers)[0] or state.data_timestamp is None or state.metadata is None:
            return
        data = await self.ctx.io.run(path.device, read_data_metadata, location, state.data_timestamp)
        if data is None:
            return  # replaced meanwhile: the newer PUT sends its own row
        new_type = content_type or data.content_type or DEFAULT_CONTENT_TYPE
        records = post_container_updates(request.headers, path, data, new_type, timestamp, location.policy)
        await self._send_updates(path, records)

    # -- container updates ----------------------------------------------------

    async def _update_containers(
        self, request: web.Request, path: EntityPath, method: str, timestamp: Timestamp, meta: ObjectMetadata,
        policy: int,
    ) -> None:
        """After a durable write: tell the container server(s); queue on failure."""
        await self._send_updates(path, container_updates(request.headers, path, method, timestamp, meta, policy))

    @staticmethod
    def _expirer_queue(
        request: web.Request, path: EntityPath, timestamp: Timestamp, before: ObjectState, delete_at: int | None,
        policy: int,
    ) -> list[PendingUpdate]:
        """The expirer queue rows of a write that sets, moves or removes
        ``X-Delete-At`` (``expirer_task_updates``): sent, or queued in
        async_pending, like any container update. Nothing for the common
        write that neither has nor had a delete-at."""
        old = before.metadata.delete_at if before.exists and before.metadata is not None else None
        return expirer_task_updates(request.headers, path, timestamp, old, delete_at, policy)

    async def _send_updates(self, path: EntityPath, records: list[PendingUpdate]) -> None:
        if not records:
            return
        device_path = self.ctx.layout(path.device).path
        local = self.ctx.local_rows
        await asyncio.gather(
            *(
                send_or_queue(
                    self.ctx.client, record, device_path, self.ctx.io, self.ctx.hash_settings, self.ctx.fsync,
                    deliver=local if local is not None and self.ctx.is_own_host(record) else None,
                )
                for record in records
            )
        )


def read_data_metadata(location: ObjectLocation, data_timestamp: Timestamp) -> ObjectMetadata | None:
    """Blocking: the .data's own metadata (no .meta applied), or None if
    that .data is gone (replaced or deleted since)."""
    try:
        return read_file_metadata(location.hash_dir / f"{data_timestamp.internal}{DATA}")
    except FileNotFoundError:
        return None
