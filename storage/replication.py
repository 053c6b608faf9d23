"""The storage-side endpoints replication needs, on top of the entity servers.

``with_replication(factories)`` wraps the servers of ``storage.server``'s
registry, so that replication lives here and the object, container and
account servers stay unaware of it:

Objects (``X-Backend-Type`` object, the default):

* ``PUT /<dev>/<part>/<a>/<c>/<o>`` with ``X-Backend-Replication: true``:
  a *replicated write*. It stores one file exactly as the sender has it -
  its own timestamp and metadata, not a new ``X-Timestamp`` - so that a
  replica is a copy, not a newer version. Headers:
  ``X-Backend-Replication-Ext`` (``.data``, ``.ts`` or ``.meta``) and
  ``X-Backend-Replication-Metadata-Length``; the body is the file's metadata
  blob (``storage.metadata.encode_metadata``) followed, for ``.data``, by
  exactly ``content_length`` body bytes, which must match the metadata's
  ETag (else 422 and nothing is kept: a corrupt copy never spreads). A file
  that would not count next to what is already there (the same name, or
  older than the state on disk) answers 409 and writes nothing. No
  container update is sent: the listing converges through the container
  databases' own replication.
* ``REPLICATE /<dev>/<part>/<suffix>-<suffix>...`` with
  ``X-Backend-Replication-Op: list``: the file names of every hash directory
  in those suffixes, as msgpack ``{suffix: {hash: [name, ...]}}``, after the
  same cleanup (and tombstone reclaim) that hashing does. Without the header
  REPLICATE is the object server's suffix hashes, unchanged.

Containers and accounts: ``REPLICATE /<dev>/<part>/<hash>`` with
``X-Backend-Type: container|account`` and a msgpack body is the database
sync protocol of ``storage.db_replication``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack
from aiohttp import web

from martlet.body import read_exactly
from martlet.config import parse_bool
from martlet.errors import BadRequest, Conflict, MethodNotAllowed, Unprocessable
from storage.diskfile import (
    DATA,
    META,
    TOMBSTONE,
    DiskFileWriter,
    ObjectLocation,
    cleanup_ondisk_files,
    gather_files,
    list_hash_dir,
    object_name,
    write_marker,
)
from storage.metadata import CorruptObject, ObjectMetadata, decode_metadata
from storage.partition_hashes import parse_suffixes
from storage.paths import EntityPath, ReplicatePath

if TYPE_CHECKING:
    from storage.server import EntityFactory, EntityServer, StorageContext

log = logging.getLogger(__name__)

REPLICATION_HEADER = "X-Backend-Replication"
EXT_HEADER = "X-Backend-Replication-Ext"
META_LENGTH_HEADER = "X-Backend-Replication-Metadata-Length"
OP_HEADER = "X-Backend-Replication-Op"
MAX_METADATA_BYTES = 1 << 20  # far above any real metadata blob
HASH_DIR_LENGTH = 32


def is_replicated(request: web.Request) -> bool:
    value = request.headers.get(REPLICATION_HEADER)
    if not value:
        return False
    try:
        return parse_bool(value)
    except ValueError:
        raise BadRequest(f"invalid {REPLICATION_HEADER}") from None


# -- blocking disk work ------------------------------------------------------


def list_suffixes(part_dir: Path, suffixes: list[str], reclaim_age: float | None) -> dict[str, dict[str, list[str]]]:
    """Blocking: ``{suffix: {hash: [kept file names]}}`` after cleanup."""
    listing: dict[str, dict[str, list[str]]] = {}
    for suffix in suffixes:
        hashes: dict[str, list[str]] = {}
        try:
            names = sorted(p.name for p in (part_dir / suffix).iterdir())
        except (FileNotFoundError, NotADirectoryError):
            names = []
        for name in names:
            if len(name) != HASH_DIR_LENGTH or not name.endswith(suffix):
                continue
            files = cleanup_ondisk_files(part_dir / suffix / name, reclaim_age)
            if files.kept:
                hashes[name] = sorted(files.kept)
        listing[suffix] = hashes
    return listing


def would_count(location: ObjectLocation, filename: str) -> bool:
    """Blocking: True if ``filename`` is new here and would be current."""
    names = list_hash_dir(location.hash_dir)
    if filename in names:
        return False
    return filename in gather_files(names + [filename]).kept


# -- the object side ---------------------------------------------------------


class ObjectReplication:
    """The object server plus replicated writes and suffix listings."""

    def __init__(self, inner: EntityServer, ctx: StorageContext) -> None:
        self.inner = inner
        self.ctx = ctx
        self.conf = ctx.config.storage

    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        if not is_replicated(request):
            return await self.inner.handle(request, path)
        if request.method != "PUT":
            raise MethodNotAllowed("replicated writes take PUT")
        return await self.replicated_write(request, path)

    async def replicate(self, request: web.Request, path: ReplicatePath) -> web.StreamResponse:
        if request.headers.get(OP_HEADER, "").strip().lower() != "list":
            inner: Any = self.inner
            response: web.StreamResponse = await inner.replicate(request, path)
            return response
        suffixes = parse_suffixes(path.rest, required=True)
        part_dir = self.ctx.devices_root / path.device / "objects" / str(path.partition)
        listing = await self.ctx.io.run(path.device, list_suffixes, part_dir, suffixes, self.conf.reclaim_age)
        return web.Response(body=msgpack.packb(listing, use_bin_type=True), content_type="application/x-msgpack")

    async def close(self) -> None:
        close: Callable[[], Any] | None = getattr(self.inner, "close", None)
        if close is not None:
            await close()

    async def _read(self, request: web.Request, size: int) -> bytes:
        return await read_exactly(request, self.conf.client_timeout, size)

    async def _metadata(self, request: web.Request, path: EntityPath) -> tuple[str, ObjectMetadata]:
        ext = request.headers.get(EXT_HEADER, "")
        if ext not in (DATA, META, TOMBSTONE):
            raise BadRequest(f"{EXT_HEADER} must be .data, .ts or .meta")
        length_text = request.headers.get(META_LENGTH_HEADER, "")
        if not length_text.isdigit() or not 0 < int(length_text) <= MAX_METADATA_BYTES:
            raise BadRequest(f"invalid {META_LENGTH_HEADER}")
        try:
            meta = decode_metadata(await self._read(request, int(length_text)))
        except CorruptObject as exc:
            raise BadRequest(f"undecodable metadata: {exc.reason}") from None
        assert path.container is not None and path.obj is not None
        if meta.name != object_name(path.account, path.container, path.obj):
            raise BadRequest("metadata names another object")
        if ext == DATA and (meta.etag is None or meta.content_length is None):
            raise BadRequest("a .data needs an etag and a length")
        return ext, meta

    async def replicated_write(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        assert path.container is not None and path.obj is not None
        ext, meta = await self._metadata(request, path)
        location = self.ctx.object_location(path)
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


# -- wiring ------------------------------------------------------------------


def with_replication(factories: dict[str, EntityFactory]) -> dict[str, EntityFactory]:
    """The registry with replication endpoints wrapped around its servers."""
    wrapped = dict(factories)
    if "object" in factories:
        make_object = factories["object"]
        wrapped["object"] = lambda ctx: ObjectReplication(make_object(ctx), ctx)
    for kind in ("container", "account"):
        if kind in factories:
            make = factories[kind]
            wrapped[kind] = functools.partial(_database_replication, make, kind)
    return wrapped


def _database_replication(make: EntityFactory, kind: str, ctx: StorageContext) -> EntityServer:
    from storage.db_replication import DatabaseReplication

    return DatabaseReplication(make(ctx), ctx, kind)
