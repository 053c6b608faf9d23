"""Suffixes of an object partition: their hashes (``hashes.msgpack``,
``hashes.invalid``), their listings, and removing a handed-off partition.

Replication compares partitions suffix by suffix: the hash of a suffix is
the md5 over ``<hash>/<file name>\\n`` of every file left in it after cleanup,
in sorted order, so two replicas agree exactly when they hold the same files.
Computing it lists every hash directory, so it is cached:

* ``hashes.msgpack``: ``{"v": 1, "hashes": {suffix: md5 hex | None}, "gen": n}``,
  written atomically; ``None`` means dirty (recompute before answering);
  ``gen`` counts the rewrites (absent in older files: 0).
* ``hashes.invalid``: suffixes made dirty by writes, one per line, appended
  by ``storage.diskfile.invalidate_suffix``; REPLICATE folds the lines in.

Both are changed only under ``storage.diskfile.partition_lock``. Hashing
itself runs without the lock; if a suffix was invalidated meanwhile, its
fresh hash is dropped and recomputed. A clean partition (the common case,
asked three times a replication pass) is read without the lock at all
(``_clean_hashes`` says why that is safe).

The object replicator compares what differs with ``list_suffixes`` (the file
names of every hash directory, after the same cleanup) on both sides, and
empties a partition it handed off with ``remove_reverted``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgpack

from martlet.errors import BadRequest
from martlet.fileutil import atomic_write, full_device_is_507, unlink_quietly
from storage.diskfile import (
    HASHES_FILE,
    INVALID_FILE,
    LOCK_FILE,
    cleanup_ondisk_files,
    invalidate_suffix,
    partition_lock,
)
from storage.layout import NAME_HASH_RE, DeviceLayout

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
SUFFIX_RE = re.compile(r"^[0-9a-f]{3}$")
MAX_PASSES = 10  # bound on retries when writes keep invalidating a suffix

# suffix -> object hash -> the file names that count there
PartitionListing = dict[str, dict[str, list[str]]]


def parse_suffixes(rest: tuple[str, ...], *, required: bool = False) -> list[str]:
    """Pure: a REPLICATE path's ``("abc-def",)`` -> ``["abc", "def"]``; 400
    for anything not a suffix, or (``required``) for no suffixes at all."""
    if len(rest) > 1 or (required and not rest):
        tail = "/<suffix>-<suffix>..." if required else "[/<suffix>-<suffix>...]"
        raise BadRequest(f"REPLICATE path must be /<device>/<partition>{tail}")
    suffixes = rest[0].split("-") if rest else []
    if not all(SUFFIX_RE.match(s) for s in suffixes):
        raise BadRequest("invalid suffix")
    return suffixes


def hash_suffix(suffix_dir: Path, reclaim_age: float | None, now: float | None = None) -> str | None:
    """Blocking: clean up and hash one suffix; None (and removed) when empty."""
    md5 = hashlib.md5(usedforsecurity=False)
    found = False
    try:
        hash_dirs = sorted(os.listdir(suffix_dir))
    except (FileNotFoundError, NotADirectoryError):
        return None
    for name in hash_dirs:
        files = cleanup_ondisk_files(suffix_dir / name, reclaim_age, now)
        for filename in sorted(files.kept):
            md5.update(f"{name}/{filename}\n".encode())
            found = True
    if not found:
        try:
            os.rmdir(suffix_dir)
        except OSError:
            pass  # something we don't know, or a write landed meanwhile
        return None
    return md5.hexdigest()


@dataclass
class _Cached:
    """What ``hashes.msgpack`` held when read: the hashes (``None`` = dirty)
    and the generation of that write, which every rewrite bumps, so that a
    rewrite by anyone else meanwhile is seen for what it is."""

    hashes: dict[str, str | None]
    generation: int


def _read_hashes(part_dir: Path) -> _Cached:
    try:
        with open(part_dir / HASHES_FILE, "rb") as handle:
            cached = _decode_hashes(handle.read())
        if cached is not None:
            return cached
    except OSError:
        pass  # never hashed, lost or unreadable: every suffix on disk is dirty
    return _Cached({name: None for name in _suffixes_on_disk(part_dir)}, -1)


def _decode_hashes(payload: bytes) -> _Cached | None:
    """``hashes.msgpack``'s content; None if unreadable (rehash everything)."""
    try:
        data = msgpack.unpackb(payload, raw=False)
        hashes = data["hashes"] if data.get("v") == FORMAT_VERSION else None
    except Exception:
        return None
    if not isinstance(hashes, dict):
        return None
    generation = data.get("gen", 0)
    return _Cached({str(k): v for k, v in hashes.items() if SUFFIX_RE.match(str(k))},
                   generation if isinstance(generation, int) else 0)


def _clean_hashes(part_dir: Path) -> dict[str, str] | None:
    """The hashes of a clean partition, read without its lock; None when
    it may be dirty (or is not there): ask under the lock.

    Clean means ``hashes.invalid`` empty and no dirty entry. The lock only
    ever changes the two files together by replacing ``hashes.msgpack``
    (a new inode) before emptying ``hashes.invalid``, and the file we read
    stays open, so its inode cannot be reused: if the path still names it
    after ``hashes.invalid`` was seen empty, the two were read as one
    state. Most partitions are clean most of the time, and every
    replication pass asks for each of them three times (once per replica).
    """
    hashes_path = os.path.join(part_dir, HASHES_FILE)
    try:
        with open(hashes_path, "rb") as handle:
            payload = handle.read()
            if _invalid_size(part_dir) or os.stat(hashes_path).st_ino != os.fstat(handle.fileno()).st_ino:
                return None
    except OSError:
        return None
    cached = _decode_hashes(payload)
    if cached is None or any(h is None for h in cached.hashes.values()):
        return None
    return cached.hashes  # type: ignore[return-value]  # no None left


def _invalid_size(part_dir: Path) -> int:
    try:
        return os.stat(os.path.join(part_dir, INVALID_FILE)).st_size
    except FileNotFoundError:
        return 0


def _suffixes_on_disk(part_dir: Path) -> list[str]:
    try:
        return [n for n in os.listdir(part_dir) if SUFFIX_RE.match(n)]
    except FileNotFoundError:
        return []


def _read_invalid(part_dir: Path, offset: int = 0) -> tuple[set[str], int]:
    """Under the lock: the suffixes ``hashes.invalid`` names from byte
    ``offset`` on, and its size. Writers only append to it (under the
    lock); only ``_write_hashes`` empties it."""
    try:
        with open(part_dir / INVALID_FILE, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return set(), 0
    lines = (line.strip().decode("ascii", "replace") for line in data.splitlines())
    return {line for line in lines if SUFFIX_RE.match(line)}, offset + len(data)


def _write_hashes(part_dir: Path, tmp_dir: Path, hashes: dict[str, str | None], generation: int,
                  fsync: bool) -> None:
    payload = msgpack.packb({"v": FORMAT_VERSION, "hashes": hashes, "gen": generation}, use_bin_type=True)
    with full_device_is_507():
        atomic_write(part_dir / HASHES_FILE, payload, tmp_dir=tmp_dir, fsync=fsync)
    try:
        os.truncate(part_dir / INVALID_FILE, 0)
    except FileNotFoundError:
        pass


def get_hashes(
    part_dir: Path,
    tmp_dir: Path,
    recalculate: Iterable[str] = (),
    reclaim_age: float | None = None,
    fsync: bool = True,
) -> dict[str, str]:
    """Blocking: suffix -> hash of the partition, recomputing what is dirty.

    ``recalculate`` names suffixes to rehash even if their cached hash looks
    fresh (REPLICATE's ``/<suffix>-<suffix>`` after a push).

    A dirty partition costs one durable rewrite of ``hashes.msgpack``, after
    hashing: what ``hashes.invalid`` named when hashing began is known by its
    size then, so a line appended meanwhile (a write during the hashing)
    keeps its suffix dirty. If anyone else rewrote the file meanwhile (its
    generation moved), this round's work is dropped and done again.
    """
    forced = set(recalculate)
    if not forced:
        clean = _clean_hashes(part_dir)
        if clean is not None:
            return clean
    if not part_dir.is_dir():
        return {}
    hashes: dict[str, str | None] = {}
    for _ in range(MAX_PASSES):
        with partition_lock(part_dir):
            cached = _read_hashes(part_dir)
            invalid, seen = _read_invalid(part_dir)
        hashes = cached.hashes
        for suffix in invalid | forced:
            hashes[suffix] = None
        dirty = [s for s, h in hashes.items() if h is None]
        if not dirty:
            # A quiet partition: the file on disk already says all there
            # is, so it is not rewritten.
            break
        fresh = {s: hash_suffix(part_dir / s, reclaim_age) for s in dirty}
        with partition_lock(part_dir):
            if _read_hashes(part_dir).generation != cached.generation:
                continue  # rewritten by another asker meanwhile: start over
            again, _ = _read_invalid(part_dir, seen)
            for suffix, value in fresh.items():
                if value is None:
                    hashes.pop(suffix, None)
                else:
                    hashes[suffix] = value
            for suffix in again:
                hashes[suffix] = None  # written to while we hashed: hash it again
            _write_hashes(part_dir, tmp_dir, hashes, max(cached.generation, 0) + 1, fsync)
        forced.clear()
        if not again:
            break
    return {s: h for s, h in hashes.items() if h is not None}


def hashes_of_partitions(layout: DeviceLayout, policy: int, parts: Iterable[int], reclaim_age: float | None,
                         fsync: bool = True) -> dict[int, dict[str, str]]:
    """Blocking: ``get_hashes`` of every named partition ({} where none), in
    one call: a batched REPLICATE, and the replicator's own side of a window.

    A partition that cannot be hashed is left out (and logged), not the
    whole answer lost: its asker then asks for it alone, and the error is
    that partition's own."""
    tmp_dir = layout.tmp(policy)
    answer: dict[int, dict[str, str]] = {}
    for part in parts:
        try:
            answer[part] = get_hashes(layout.object_partition(part, policy), tmp_dir, (), reclaim_age, fsync)
        except Exception as exc:
            log.warning("partition not hashed", extra={"partition": part, "policy": policy, "error": repr(exc)})
    return answer


def list_suffixes(part_dir: Path, suffixes: list[str], reclaim_age: float | None) -> PartitionListing:
    """Blocking: ``{suffix: {hash: [kept file names]}}`` after cleanup."""
    listing: PartitionListing = {}
    for suffix in suffixes:
        hashes: dict[str, list[str]] = {}
        try:
            names = sorted(p.name for p in (part_dir / suffix).iterdir())
        except (FileNotFoundError, NotADirectoryError):
            names = []
        for name in names:
            if not NAME_HASH_RE.match(name) or not name.endswith(suffix):
                continue
            files = cleanup_ondisk_files(part_dir / suffix / name, reclaim_age)
            if files.kept:
                hashes[name] = sorted(files.kept)
        listing[suffix] = hashes
    return listing


def remove_reverted(part_dir: Path, listing: PartitionListing) -> bool:
    """Blocking: delete the listed files of a handed-off partition.

    Only listed files go; a directory that is not empty afterwards (a write
    landed meanwhile) stays, its suffix marked dirty. True when the whole
    partition directory is gone.
    """
    for suffix, hashes in listing.items():
        for hash_, names in hashes.items():
            hash_dir = part_dir / suffix / hash_
            for name in names:
                unlink_quietly(hash_dir / name)
            _rmdir_quietly(hash_dir)
        _rmdir_quietly(part_dir / suffix)
    try:
        left = [n for n in os.listdir(part_dir) if n not in (HASHES_FILE, INVALID_FILE, LOCK_FILE)]
    except FileNotFoundError:
        return True
    if not left:
        for name in (HASHES_FILE, INVALID_FILE, LOCK_FILE):
            unlink_quietly(part_dir / name)
        if _rmdir_quietly(part_dir):
            return True
    for suffix in listing:
        invalidate_suffix(part_dir, suffix)
    return False


def _rmdir_quietly(path: Path) -> bool:
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False
