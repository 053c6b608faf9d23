"""Object replication endpoints: the storage daemon's HTTP shell of the
object half of ``storage.replication_protocol``.

``storage.server`` wraps the object server in ``ObjectReplication``, so
that replication lives here and the object server stays unaware of it:

* a *replicated write* (``PUT`` with ``X-Backend-Replication: true``) stores
  one file exactly as the sender has it - its own timestamp and metadata,
  not a new ``X-Timestamp`` - so that a replica is a copy, not a newer
  version. The body must match the metadata's ETag (else 422 and nothing is
  kept: a corrupt copy never spreads). A file that would not count next to
  what is already there (the same name, or older than the state on disk)
  answers 409 and writes nothing. No container update is sent: the listing
  converges through the container databases' own replication.
* ``REPLICATE`` answers the partition's suffix hashes
  (``storage.partition_hashes.get_hashes``), or with
  ``X-Backend-Replication-Op: list`` the file names of the named suffixes
  (``list_suffixes``), after the same cleanup and tombstone reclaim. With
  ``X-Backend-Replication-Op: hashes`` it answers ``{partition: hashes}``
  for every partition its msgpack body lists (the path's partition is the
  first of them), so a pass asks a peer once for a window of partitions.

Both name their storage policy as object requests do
(``X-Backend-Storage-Policy-Index``: ``objects-N/`` for policy N).
"""

from __future__ import annotations


from aiohttp import web

from martlet.body import read_exactly
from martlet.errors import BadRequest, Conflict, EntityTooLarge, MethodNotAllowed, Unprocessable
from storage.context import EntityHandler, StorageContext
from storage.diskfile import DATA, DiskFileWriter, object_name, would_count, write_marker
from storage.metadata import CorruptObject, ObjectMetadata, decode_metadata
from storage.object_headers import request_policy
from storage.partition_hashes import get_hashes, hashes_of_partitions, list_suffixes, parse_suffixes
from storage.paths import EntityPath, ReplicatePath
from storage.replication_protocol import (
    MAX_PARTITIONS_PER_REQUEST,
    MSGPACK_TYPE,
    decode_partitions,
    is_listing,
    is_partition_batch,
    is_replicated,
    pack,
    replicated_write_framing,
)


class ObjectReplication:
    """The object server plus replicated writes and suffix listings."""

    def __init__(self, inner: EntityHandler, ctx: StorageContext) -> None:
        self.inner = inner
        self.ctx = ctx
        self.conf = ctx.config.storage

    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        if not is_replicated(request.headers):
            return await self.inner.handle(request, path)
        if request.method != "PUT":
            raise MethodNotAllowed("replicated writes take PUT")
        return await self.replicated_write(request, path)

    async def replicate(self, request: web.Request, path: ReplicatePath) -> web.StreamResponse:
        """Suffix hashes of a partition (rehashing dirty and named suffixes),
        or the file names of the named suffixes; msgpack either way."""
        policy = request_policy(request.headers, self.ctx.policies)
        layout = self.ctx.layout(path.device)
        part_dir = layout.object_partition(path.partition, policy)
        reclaim_age = self.conf.reclaim_age
        answer: object
        if is_partition_batch(request.headers):
            parts = await self._partitions(request)
            answer = await self.ctx.io.run(path.device, hashes_of_partitions, layout, policy, parts, reclaim_age,
                                           self.ctx.fsync)
        elif is_listing(request.headers):
            suffixes = parse_suffixes(path.rest, required=True)
            answer = await self.ctx.io.run(path.device, list_suffixes, part_dir, suffixes, reclaim_age)
        else:
            recalculate = parse_suffixes(path.rest)
            answer = await self.ctx.io.run(
                path.device, get_hashes, part_dir, layout.tmp(policy), recalculate, reclaim_age, self.ctx.fsync
            )
        return web.Response(body=pack(answer), content_type=MSGPACK_TYPE)

    async def _partitions(self, request: web.Request) -> list[int]:
        length = request.content_length
        # Each partition packs into at most 5 bytes, the list's header into 3.
        if length is None or length > 5 * MAX_PARTITIONS_PER_REQUEST + 3:
            raise EntityTooLarge(f"at most {MAX_PARTITIONS_PER_REQUEST} partitions, with a Content-Length")
        try:
            return decode_partitions(await self._read(request, length))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    async def close(self) -> None:
        await self.inner.close()

    async def _read(self, request: web.Request, size: int) -> bytes:
        return await read_exactly(request, self.conf.client_timeout, size)

    async def _metadata(self, request: web.Request, path: EntityPath) -> tuple[str, ObjectMetadata]:
        ext, metadata_length = replicated_write_framing(request.headers)
        try:
            meta = decode_metadata(await self._read(request, metadata_length))
        except CorruptObject as exc:
            raise BadRequest(f"undecodable metadata: {exc.reason}") from None
        assert path.names.container is not None and path.names.obj is not None
        if meta.name != object_name(path.names.account, path.names.container, path.names.obj):
            raise BadRequest("metadata names another object")
        if ext == DATA and (meta.etag is None or meta.content_length is None):
            raise BadRequest("a .data needs an etag and a length")
        return ext, meta

    async def replicated_write(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        assert path.names.container is not None and path.names.obj is not None
        policy = request_policy(request.headers, self.ctx.policies)
        ext, meta = await self._metadata(request, path)
        location = self.ctx.object_location(path, policy)
        filename = meta.timestamp.internal + ext
        if not await self.ctx.io.run(path.device, would_count, location, filename):
            raise Conflict("already held or superseded", headers={"X-Backend-Timestamp": meta.timestamp.internal})
        if ext != DATA:
            await self.ctx.io.run(path.device, write_marker, location, meta, ext, self.conf.fsync)
            return web.Response(status=201)
        writer = DiskFileWriter(location, fsync=self.conf.fsync)
        await self.ctx.io.run(path.device, writer.open)
        try:
            await self._receive(request, path.device, writer, meta.content_length or 0)
            if writer.etag != meta.etag:
                raise Unprocessable("replicated body does not match its ETag")
            # The CRC-32 stored is this daemon's own, of the bytes it wrote
            # (an object from before CRC-32s were stored gets one here).
            await self.ctx.io.run(path.device, writer.commit, meta, DATA)
        finally:
            await self.ctx.io.run(path.device, writer.abort)
        return web.Response(status=201, headers={"ETag": writer.etag})

    async def _receive(self, request: web.Request, device: str, writer: DiskFileWriter, length: int) -> None:
        chunk = self.conf.disk_chunk_size
        remaining = length
        while remaining > 0:
            data = await self._read(request, min(chunk, remaining))
            await self.ctx.io.run(device, writer.write, data)
            remaining -= len(data)
