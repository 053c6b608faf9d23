"""Objects on disk: the layout, file naming and cleanup rules.

The on-disk contract (every reader and writer of object files - the object
server, the auditor, the replicator - follows it)::

    <devices>/<dev>/objects/<part>/<suffix>/<hash>/<timestamp>.data
                                                   <timestamp>.meta
                                                   <timestamp>.ts
    <devices>/<dev>/objects/<part>/hashes.msgpack
    <devices>/<dev>/objects/<part>/hashes.invalid
    <devices>/<dev>/tmp/

  (``objects-N/`` and ``tmp-N/`` for storage policy N, with the same
  contract inside; ``ObjectLocation.policy`` says which.)

* ``<hash>`` is ``martlet.hashing.hash_path(a, c, o)`` (md5 hex of the path
  under the cluster's hash prefix/suffix); ``<suffix>`` is its last three hex
  digits; ``<part>`` the ring partition (decimal).
* ``<timestamp>`` is ``Timestamp.internal``, so file names sort by time.
  ``.data`` holds exactly ``content_length`` bytes of body from offset 0;
  ``.meta`` (POSTed metadata) and ``.ts`` (tombstone) are empty. Metadata
  lives in xattrs (``storage.metadata``, which documents a trailer fallback
  after the body when the xattrs are full).
* Writes go to ``tmp/`` on the same device, are fsynced (config ``fsync``)
  with their metadata, and renamed into the hash directory, which is then
  fsynced, and so is the parent of every directory the write created
  (hash, suffix, partition, ``objects/``: up to the device root), so that
  an acknowledged first write into a new directory survives a power cut;
  a reader never sees a partial file in ``objects/``.
* Which files count (``gather_files``): the newest ``.data`` or ``.ts`` is the
  object's state (at equal timestamps ``.ts`` wins); the newest ``.meta``
  newer than it applies its metadata on top. Every other known file is
  obsolete and removed by ``cleanup_ondisk_files`` after each write; a ``.ts``
  older than ``reclaim_age`` is removed when its suffix is rehashed, and an
  empty hash directory with it. Files with unknown names are left alone.
* After a write the suffix is appended to ``hashes.invalid``
  (``invalidate_suffix``, here beside the writes that call it, as in Swift);
  ``storage.partition_hashes`` folds those into ``hashes.msgpack`` (suffix ->
  md5 over ``<hash>/<file name>`` of every remaining file) when REPLICATE asks.
  Both files are touched only under ``partition_lock``.
* Directory names (``objects``, ``tmp``, and ``objects-N`` for storage
  policy N) come from ``storage.layout.DeviceLayout``.

The API takes timestamps and metadata explicitly, so the replicator can write
files with their original timestamps through the same code.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from martlet.digest import Crc32
from martlet.fileutil import fsync_created, fsync_dir, make_dirs, make_temp, raise_if_full, unlink_quietly
from martlet.hashing import HashSection, entity_path, hash_path
from martlet.timestamp import Timestamp
from storage.layout import DeviceLayout
from storage.metadata import (
    CorruptObject,
    ObjectMetadata,
    read_metadata,
    sticks_to_data,
    write_metadata,
)

log = logging.getLogger(__name__)

# In each partition directory, beside its suffixes (storage.partition_hashes).
HASHES_FILE = "hashes.msgpack"
INVALID_FILE = "hashes.invalid"
LOCK_FILE = ".lock"
DATA, META, TOMBSTONE = ".data", ".meta", ".ts"
_EXTS = (DATA, META, TOMBSTONE)
# At equal timestamps a tombstone beats data (delete wins a tie).
_TIE_RANK = {TOMBSTONE: 0, DATA: 1, META: 2}


@dataclass(frozen=True)
class ObjectLocation:
    """Where one object's files live on one device."""

    device_path: Path
    partition: int
    hash: str
    policy: int = 0  # storage policy: objects-N/ and tmp-N/ for N > 0
    # Made once with the location: a request asks for these several times,
    # and each ``Path`` join costs microseconds. (Not ``cached_property``:
    # on Python 3.11 it takes one lock shared by every instance.)
    part_dir: Path = field(init=False, repr=False, compare=False)
    hash_dir: Path = field(init=False, repr=False, compare=False)
    tmp_dir: Path = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        layout = DeviceLayout.at(self.device_path)
        part_dir = layout.object_partition(self.partition, self.policy)
        object.__setattr__(self, "part_dir", part_dir)
        object.__setattr__(self, "hash_dir", part_dir / self.suffix / self.hash)
        object.__setattr__(self, "tmp_dir", layout.tmp(self.policy))

    @property
    def suffix(self) -> str:
        return self.hash[-3:]


def object_location(
    device_path: Path,
    partition: int,
    account: str,
    container: str,
    obj: str,
    settings: HashSection = HashSection(),
    policy: int = 0,
) -> ObjectLocation:
    return ObjectLocation(device_path, partition, hash_path(account, container, obj, settings=settings), policy)


def object_name(account: str, container: str, obj: str) -> str:
    """The name stored in metadata: ``/a/c/o``."""
    return entity_path(account, container, obj)


def parse_filename(name: str) -> tuple[Timestamp, str] | None:
    """``(timestamp, ext)`` of an object file name, None for anything else."""
    stem, dot, ext = name.rpartition(".")
    if not dot or "." + ext not in _EXTS:
        return None
    try:
        return Timestamp.parse(stem), "." + ext
    except Exception:
        return None


@dataclass(frozen=True)
class OnDiskFiles:
    """The files of one hash directory, sorted into what counts and what not."""

    data: str | None = None
    meta: str | None = None
    tombstone: str | None = None
    obsolete: tuple[str, ...] = ()

    @property
    def kept(self) -> tuple[str, ...]:
        return tuple(n for n in (self.tombstone, self.data, self.meta) if n is not None)


def gather_files(names: list[str]) -> OnDiskFiles:
    """Pure: decide which files are current (see the module's rules)."""
    known = []
    for name in names:
        parsed = parse_filename(name)
        if parsed is not None:
            known.append((parsed[0], _TIE_RANK[parsed[1]], parsed[1], name))
    # Newest first; at equal time, tombstone before data before meta.
    known.sort(key=lambda item: (-item[0].ticks, -item[0].offset, item[1]))
    base: tuple[str, str] | None = None
    meta: str | None = None
    obsolete: list[str] = []
    for _ts, _rank, ext, name in known:
        if base is None and ext in (DATA, TOMBSTONE):
            base = (ext, name)
        elif base is None and ext == META and meta is None:
            meta = name
        else:
            obsolete.append(name)
    if base is not None and base[0] == TOMBSTONE and meta is not None:
        obsolete.append(meta)  # metadata of a deleted object means nothing
        meta = None
    return OnDiskFiles(
        data=base[1] if base and base[0] == DATA else None,
        meta=meta,
        tombstone=base[1] if base and base[0] == TOMBSTONE else None,
        obsolete=tuple(obsolete),
    )


def list_hash_dir(hash_dir: Path) -> list[str]:
    try:
        return sorted(os.listdir(hash_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []


def cleanup_ondisk_files(
    hash_dir: Path, reclaim_age: float | None = None, now: float | None = None
) -> OnDiskFiles:
    """Blocking: remove obsolete files (and an old tombstone); rmdir if empty."""
    files = gather_files(list_hash_dir(hash_dir))
    doomed = list(files.obsolete)
    if files.tombstone is not None and reclaim_age is not None:
        parsed = parse_filename(files.tombstone)
        current = Timestamp.now().seconds if now is None else now
        if parsed is not None and current - parsed[0].seconds > reclaim_age:
            doomed.append(files.tombstone)
            files = replace(files, tombstone=None)
    for name in doomed:
        unlink_quietly(hash_dir / name)
    if files.obsolete:
        files = replace(files, obsolete=())
    if not files.kept and not any(parse_filename(n) is None for n in list_hash_dir(hash_dir)):
        try:
            os.rmdir(hash_dir)
        except OSError:
            pass  # a concurrent write just landed a file
    return files


def would_count(location: ObjectLocation, filename: str) -> bool:
    """Blocking: True if ``filename`` is new here and would be current
    next to what the hash directory holds (a replicated write's test)."""
    names = list_hash_dir(location.hash_dir)
    if filename in names:
        return False
    return filename in gather_files(names + [filename]).kept


@contextmanager
def partition_lock(part_dir: Path) -> Iterator[None]:
    """Exclusive ``flock`` on ``<part>/.lock``: holds across threads and
    worker processes alike."""
    lock_path = part_dir / LOCK_FILE
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:  # a new partition: made only then, as it is rare
        part_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def invalidate_suffix(part_dir: Path, suffix: str) -> None:
    """Blocking: mark ``suffix`` dirty after a write to it. Appending a line
    is cheap and safe under concurrency, so a write never rewrites
    ``hashes.msgpack``."""
    with partition_lock(part_dir):
        fd = os.open(part_dir / INVALID_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{suffix}\n".encode("ascii"))
        finally:
            os.close(fd)


@dataclass(frozen=True)
class ObjectState:
    """What a hash directory holds right now, with the data file kept open.

    ``metadata`` is the .data's with a newer .meta applied; ``fd`` is an open
    descriptor of the .data (it stays readable even if a DELETE unlinks the
    file meanwhile) and must be closed with ``close()``.
    """

    data_timestamp: Timestamp | None = None
    meta_timestamp: Timestamp | None = None
    tombstone_timestamp: Timestamp | None = None
    metadata: ObjectMetadata | None = None
    fd: int | None = None

    @property
    def exists(self) -> bool:
        return self.metadata is not None and self.data_timestamp is not None

    @property
    def newest(self) -> Timestamp | None:
        """The newest timestamp on disk: what a later write must beat."""
        stamps = [t for t in (self.data_timestamp, self.meta_timestamp, self.tombstone_timestamp) if t]
        return max(stamps) if stamps else None

    @property
    def durable(self) -> Timestamp | None:
        """The timestamp of the .data or .ts: what a PUT or DELETE must beat."""
        return self.data_timestamp or self.tombstone_timestamp

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)

    def closed(self) -> ObjectState:
        """This state, its descriptor closed and forgotten (the number may
        be another file's by now)."""
        self.close()
        return replace(self, fd=None)


def apply_meta(base: ObjectMetadata, update: ObjectMetadata) -> ObjectMetadata:
    """Pure: a .meta's metadata over the .data's.

    A POST replaces user metadata, X-Delete-At and the POST-able headers as a
    whole; ETag, length, sysmeta and X-Static-Large-Object stay the .data's.
    """
    return replace(
        base,
        timestamp=update.timestamp,
        content_type=update.content_type or base.content_type,
        delete_at=update.delete_at,
        user_meta=dict(update.user_meta),
        sys_meta={
            **{k: v for k, v in base.sys_meta.items() if sticks_to_data(k)},
            **{k: v for k, v in update.sys_meta.items() if not sticks_to_data(k)},
        },
    )


def read_file_metadata(path: Path) -> ObjectMetadata:
    """Blocking: the metadata of one object file, exactly as stored (no
    ``.meta`` applied); FileNotFoundError if it is gone."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_metadata(fd)
    finally:
        os.close(fd)


def open_object(location: ObjectLocation) -> ObjectState:
    """Blocking: the object's current state; CorruptObject if unreadable."""
    files = gather_files(list_hash_dir(location.hash_dir))
    if files.tombstone is not None:
        parsed = parse_filename(files.tombstone)
        return ObjectState(tombstone_timestamp=parsed[0] if parsed else None)
    meta_ts = None
    update = None
    if files.meta is not None:
        try:
            update = read_file_metadata(location.hash_dir / files.meta)
            meta_ts = update.timestamp
        except FileNotFoundError:
            update = None  # superseded while we looked: the .data still answers
    if files.data is None:
        return ObjectState(meta_timestamp=meta_ts)
    try:
        fd = os.open(location.hash_dir / files.data, os.O_RDONLY)
    except FileNotFoundError:
        return open_object(location)  # replaced by a concurrent write: look again
    try:
        base = read_metadata(fd)
        if base.etag is None or base.content_length is None:
            raise CorruptObject("data file without etag or length")
    except BaseException:
        os.close(fd)
        raise
    merged = apply_meta(base, update) if update is not None and update.timestamp > base.timestamp else base
    return ObjectState(
        data_timestamp=base.timestamp,
        meta_timestamp=meta_ts if merged is not base else None,
        metadata=merged,
        fd=fd,
    )


IOV_MAX = 1024  # Linux's limit on the buffers of one writev


def drop_written(views: list[memoryview], written: int) -> list[memoryview]:
    """Pure: what is left of ``views`` after a write took ``written`` bytes."""
    index = 0
    while index < len(views) and written >= len(views[index]):
        written -= len(views[index])
        index += 1
    rest = views[index:]
    if rest and written:
        rest[0] = rest[0][written:]
    return rest


def iter_body(start: int, end: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """Pure: the (offset, length) reads that cover ``[start, end)``."""
    offset = start
    while offset < end:
        length = min(chunk_size, end - offset)
        yield offset, length
        offset += length


class DiskFileWriter:
    """Blocking writer of one file into a hash directory.

    ``open`` makes the temp file, ``write`` appends body chunks (hashing them
    on the way), ``commit`` stores metadata, fsyncs and renames into place,
    ``abort`` removes the temp file. On any failure nothing but the temp file
    was touched, and ``abort`` removes it.
    """

    def __init__(self, location: ObjectLocation, fsync: bool = True) -> None:
        self.location = location
        self.fsync = fsync
        self.fd: int | None = None
        self.tmp_path: Path | None = None
        self.bytes_written = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._crc = Crc32()  # stored beside the md5, for cheap checks on read

    def open(self) -> None:
        try:
            self.fd, self.tmp_path = make_temp(self.location.tmp_dir, prefix="obj")
        except OSError as exc:
            raise_if_full(exc)
            raise

    @property
    def etag(self) -> str:
        return self._md5.hexdigest()

    def write(self, data: bytes) -> None:
        self.write_chunks([data])

    def write_chunks(self, chunks: Sequence[bytes]) -> None:
        """Append ``chunks`` with one ``writev`` (as the network gave them:
        joining them first would copy every byte twice more)."""
        assert self.fd is not None, "open() first"
        for chunk in chunks:
            self._md5.update(chunk)
            self._crc.update(chunk)
        pending = [memoryview(chunk) for chunk in chunks if chunk]
        total = sum(len(view) for view in pending)
        try:
            while pending:
                written = os.writev(self.fd, pending[:IOV_MAX])
                pending = drop_written(pending, written)
        except OSError as exc:
            raise_if_full(exc)
            raise
        self.bytes_written += total

    def commit(self, metadata: ObjectMetadata, ext: str) -> Path:
        """Store ``metadata``, make it durable and rename to ``<timestamp><ext>``.
        A ``.data`` stores the CRC-32 of the bytes written here, whatever
        ``metadata`` says (a replicated object's is this daemon's own)."""
        assert self.fd is not None and self.tmp_path is not None, "open() first"
        target = self.location.hash_dir / f"{metadata.timestamp.internal}{ext}"
        metadata = self.stamped(metadata, ext)
        try:
            write_metadata(self.fd, metadata, self.bytes_written)
            if self.fsync:
                os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            created = _rename_into_place(self.tmp_path, target)
            self.tmp_path = None
        except OSError as exc:
            raise_if_full(exc)
            raise
        if self.fsync:
            fsync_dir(self.location.hash_dir)
            fsync_created(created)
        cleanup_ondisk_files(self.location.hash_dir)
        invalidate_suffix(self.location.part_dir, self.location.suffix)
        return target

    def stamped(self, metadata: ObjectMetadata, ext: str) -> ObjectMetadata:
        """``metadata`` as ``commit`` stores it: a ``.data``'s with the CRC-32
        of the bytes this writer wrote."""
        return replace(metadata, crc32=self._crc.crc) if ext == DATA else metadata

    def store(self, body: bytes, describe: Callable[[DiskFileWriter], ObjectMetadata], ext: str) -> ObjectMetadata:
        """``open``, ``write`` and ``commit`` a whole small body in one call
        (one thread hop); ``describe`` gives the metadata once the body is
        written, or raises to keep nothing. Returns the metadata stored."""
        self.open()
        try:
            self.write(body)
            metadata = describe(self)
            self.commit(metadata, ext)
            return self.stamped(metadata, ext)
        finally:
            self.abort()

    def abort(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.tmp_path is not None:
            unlink_quietly(self.tmp_path)
            self.tmp_path = None


def _rename_into_place(tmp_path: Path, target: Path, attempts: int = 5) -> list[Path]:
    """mkdir the hash directory and rename into it; returns the directories
    created on the way (their entries are the caller's to fsync). Hashing a
    suffix (REPLICATE, the replicator's listings) removes empty hash and
    suffix directories, so one may vanish between the mkdir and the rename:
    make it again."""
    created: list[Path] = []
    for _ in range(attempts - 1):
        created += make_dirs(target.parent)
        try:
            os.replace(tmp_path, target)
            return created
        except FileNotFoundError:
            if not tmp_path.exists():
                raise
    created += make_dirs(target.parent)
    os.replace(tmp_path, target)  # the last attempt: its error is the caller's
    return created


def write_marker(location: ObjectLocation, metadata: ObjectMetadata, ext: str, fsync: bool = True) -> Path:
    """Blocking: write an empty ``.ts`` or ``.meta`` with ``metadata``."""
    writer = DiskFileWriter(location, fsync=fsync)
    writer.open()
    try:
        return writer.commit(metadata, ext)
    finally:
        writer.abort()
