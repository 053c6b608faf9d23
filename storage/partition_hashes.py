"""Suffixes of an object partition: their hashes (``hashes.msgpack``,
``hashes.invalid``), their listings, and removing a handed-off partition.

Replication compares partitions suffix by suffix: the hash of a suffix is
the md5 over ``<hash>/<file name>\\n`` of every file left in it after cleanup,
in sorted order, so two replicas agree exactly when they hold the same files.
Computing it lists every hash directory, so it is cached:

* ``hashes.msgpack``: ``{"v": 1, "hashes": {suffix: md5 hex | None}}``, written
  atomically; ``None`` means dirty (recompute before answering).
* ``hashes.invalid``: suffixes made dirty by writes, one per line, appended
  by ``storage.diskfile.invalidate_suffix``; REPLICATE folds the lines in.

Both are touched only under ``storage.diskfile.partition_lock``. Hashing
itself runs without the lock; if a suffix was invalidated meanwhile, its
fresh hash is dropped and recomputed.

The object replicator compares what differs with ``list_suffixes`` (the file
names of every hash directory, after the same cleanup) on both sides, and
empties a partition it handed off with ``remove_reverted``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
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
from storage.layout import NAME_HASH_RE

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


def _read_hashes(part_dir: Path) -> dict[str, str | None]:
    try:
        with open(part_dir / HASHES_FILE, "rb") as handle:
            data = msgpack.unpackb(handle.read(), raw=False)
        hashes = data["hashes"] if data.get("v") == FORMAT_VERSION else None
        if isinstance(hashes, dict):
            return {str(k): v for k, v in hashes.items() if SUFFIX_RE.match(str(k))}
    except FileNotFoundError:
        pass  # never hashed (or lost): every suffix on disk is dirty
    except Exception:
        pass  # unreadable: start over and rehash every suffix on disk
    return {name: None for name in _suffixes_on_disk(part_dir)}


def _suffixes_on_disk(part_dir: Path) -> list[str]:
    try:
        return [n for n in os.listdir(part_dir) if SUFFIX_RE.match(n)]
    except FileNotFoundError:
        return []


def _fold_invalid(part_dir: Path, hashes: dict[str, str | None]) -> set[str]:
    """Under the lock: mark suffixes of ``hashes.invalid`` dirty, empty the file."""
    path = part_dir / INVALID_FILE
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            invalid = {line.strip() for line in handle if SUFFIX_RE.match(line.strip())}
    except FileNotFoundError:
        return set()
    for suffix in invalid:
        hashes[suffix] = None
    return invalid


def _write_hashes(part_dir: Path, tmp_dir: Path, hashes: dict[str, str | None], fsync: bool) -> None:
    payload = msgpack.packb({"v": FORMAT_VERSION, "hashes": hashes}, use_bin_type=True)
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
    """
    if not part_dir.is_dir():
        return {}
    with partition_lock(part_dir):
        hashes = _read_hashes(part_dir)
        _fold_invalid(part_dir, hashes)
        for suffix in recalculate:
            hashes[suffix] = None
        # Nothing dirty (a replication pass over a quiet partition): the
        # file on disk already says all there is, so it is not rewritten.
        if any(value is None for value in hashes.values()):
            _write_hashes(part_dir, tmp_dir, hashes, fsync)
    for _ in range(MAX_PASSES):
        dirty = [s for s, h in hashes.items() if h is None]
        if not dirty:
            break
        fresh = {s: hash_suffix(part_dir / s, reclaim_age) for s in dirty}
        with partition_lock(part_dir):
            hashes = _read_hashes(part_dir)
            again = _fold_invalid(part_dir, hashes)
            for suffix, value in fresh.items():
                if suffix in again:
                    continue  # written to while we hashed: hash it again
                if value is None:
                    hashes.pop(suffix, None)
                else:
                    hashes[suffix] = value
            _write_hashes(part_dir, tmp_dir, hashes, fsync)
    return {s: h for s, h in hashes.items() if h is not None}


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
