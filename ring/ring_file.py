"""Ring and builder files: the only place the ring touches the disk.

Layout of both kinds, inside one gzip stream::

    magic      8 bytes   b"MARTRING" (ring) or b"MARTBLDR" (builder)
    version    uint16    big-endian format version (FORMAT_VERSION)
    meta_len   uint32    big-endian length of the metadata
    metadata   JSON      part_power, devices, ..., and "arrays": a list of
                         {"name", "dtype", "length"} describing what follows
    arrays     raw bytes each array in order, little-endian, no padding

Arrays are stored raw so loading a 2^20-partition ring is one decompress and
a few ``frombytes`` calls, not millions of per-element decodes. No pickle:
a file is data, never code. Anything short, long, corrupt (gzip's CRC),
unknown or inconsistent raises ``RingError``; a ring that answers wrongly is
worse than no ring. Writes go to a temporary file in the same folder, are
fsynced and renamed over the target, so readers see the old or the new file
and never half of one.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from martlet.errors import RingError
from martlet.fileutil import atomic_write
from martlet.hashing import HashSection

from ring.builder import RingBuilder
from ring.device import Device
from ring.ring import Ring

log = logging.getLogger(__name__)

RING_MAGIC = b"MARTRING"
BUILDER_MAGIC = b"MARTBLDR"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">8sHI")
_DTYPES: dict[str, np.dtype[Any]] = {"<u2": np.dtype("<u2"), "<f8": np.dtype("<f8")}


@dataclass(frozen=True)
class FileContents:
    metadata: dict[str, Any]
    arrays: dict[str, np.ndarray]


# -- container ----------------------------------------------------------------
def encode(magic: bytes, metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    described = []
    blobs = []
    for name, values in arrays.items():
        dtype = values.dtype.newbyteorder("<") if values.dtype.byteorder != "|" else values.dtype
        code = dtype.str
        if code not in _DTYPES:
            raise RingError(f"array {name} has unsupported dtype {code}")
        described.append({"name": name, "dtype": code, "length": int(values.size)})
        blobs.append(np.ascontiguousarray(values, dtype=dtype).tobytes())
    meta = json.dumps({**metadata, "arrays": described}, sort_keys=True).encode("utf-8")
    raw = b"".join([_HEADER.pack(magic, FORMAT_VERSION, len(meta)), meta, *blobs])
    # mtime=0 keeps the bytes a pure function of the contents; level 6 is
    # gzip's default trade-off and loading cost is dominated by inflate anyway.
    return gzip.compress(raw, compresslevel=6, mtime=0)


def decode(data: bytes, magic: bytes, what: str) -> FileContents:
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise RingError(f"{what}: not a readable gzip file ({exc})") from None
    if len(raw) < _HEADER.size:
        raise RingError(f"{what}: truncated header")
    found, version, meta_len = _HEADER.unpack_from(raw)
    if found != magic:
        raise RingError(f"{what}: bad magic {found!r}, expected {magic!r}")
    if version != FORMAT_VERSION:
        raise RingError(f"{what}: format version {version} not supported (this is {FORMAT_VERSION})")
    start = _HEADER.size
    try:
        metadata = json.loads(raw[start : start + meta_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RingError(f"{what}: corrupt metadata ({exc})") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("arrays"), list):
        raise RingError(f"{what}: metadata lacks its array table")
    offset = start + meta_len
    arrays: dict[str, np.ndarray] = {}
    for entry in metadata.pop("arrays"):
        try:
            name, dtype, length = str(entry["name"]), _DTYPES[entry["dtype"]], int(entry["length"])
        except (KeyError, TypeError, ValueError):
            raise RingError(f"{what}: bad array entry {entry!r}") from None
        end = offset + length * dtype.itemsize
        if length < 0 or end > len(raw):
            raise RingError(f"{what}: truncated array {name}")
        arrays[name] = np.frombuffer(raw, dtype=dtype, count=length, offset=offset).astype(
            dtype.newbyteorder("="), copy=False
        )
        offset = end
    if offset != len(raw):
        raise RingError(f"{what}: {len(raw) - offset} unexpected trailing bytes")
    return FileContents(metadata, arrays)


def read_file(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise RingError(f"{path}: cannot read: {exc.strerror}") from None


def devices_from(metadata: dict[str, Any], what: str) -> list[Device | None]:
    entries = metadata.get("devices")
    if not isinstance(entries, list):
        raise RingError(f"{what}: metadata lacks its device list")
    return [None if entry is None else Device.from_dict(entry) for entry in entries]


def int_field(metadata: dict[str, Any], key: str, what: str) -> int:
    value = metadata.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RingError(f"{what}: metadata field {key!r} missing or not an integer")
    return value


# -- rings ---------------------------------------------------------------------
def ring_bytes(ring: Ring) -> bytes:
    metadata = {
        "kind": "ring",
        "part_power": ring.part_power,
        "replica_count": ring.replica_count,
        "version": ring.version,
        "devices": [None if d is None else d.to_dict() for d in ring.devices],
    }
    arrays = {
        f"replica{r}": np.frombuffer(a, dtype=np.uint16)
        for r, a in enumerate(ring.replica2part2dev)
    }
    return encode(RING_MAGIC, metadata, arrays)


def ring_from_bytes(data: bytes, hash_settings: HashSection = HashSection(), what: str = "ring") -> Ring:
    contents = decode(data, RING_MAGIC, what)
    meta = contents.metadata
    part_power = int_field(meta, "part_power", what)
    replicas = int_field(meta, "replica_count", what)
    try:
        assignment = [contents.arrays[f"replica{r}"] for r in range(replicas)]
    except KeyError as exc:
        raise RingError(f"{what}: missing array {exc}") from None
    try:
        return Ring(
            part_power,
            devices_from(meta, what),
            [a.astype("<u2", copy=False).tobytes() for a in assignment],
            hash_settings,
            version=int_field(meta, "version", what),
        )
    except RingError as exc:
        raise RingError(f"{what}: {exc}") from None


def save_ring(ring: Ring, path: str | os.PathLike[str]) -> None:
    atomic_write(Path(path), ring_bytes(ring))


def load_ring(path: str | os.PathLike[str], hash_settings: HashSection = HashSection()) -> Ring:
    return ring_from_bytes(read_file(path), hash_settings, what=str(path))


# -- reloading -----------------------------------------------------------------
def _stat_key(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class RingReloader:
    """Holds the current ``Ring`` of one file and swaps in a new one when the
    file changes.

    ``ring`` only hands out the ring it holds; it never touches the disk, so
    a lookup costs nothing. ``reload_if_changed`` re-stats the file and, when
    its ``(mtime, size, inode)`` changed, loads a new immutable ``Ring`` and
    swaps it in whole (one attribute assignment, so a reader in another
    thread sees the old ring or the new one). The caller decides when to
    check: the proxy does it from a background task, in a worker thread,
    because a large ring takes a while to inflate. A new file that fails to
    load is logged and the old ring kept, so a bad push cannot take a running
    daemon down.
    """

    def __init__(self, path: str | os.PathLike[str], hash_settings: HashSection = HashSection()) -> None:
        self.path = Path(path)
        self.hash_settings = hash_settings
        key = self._stat_or_raise()
        self._ring = load_ring(self.path, hash_settings)
        self._key = key

    def _stat_or_raise(self) -> tuple[int, int, int]:
        try:
            return _stat_key(self.path)
        except OSError as exc:
            raise RingError(f"{self.path}: cannot stat: {exc.strerror}") from None

    @property
    def ring(self) -> Ring:
        return self._ring

    def reload_if_changed(self) -> bool:
        """Load the file if it changed; True when a new ring was swapped in."""
        try:
            key = _stat_key(self.path)
        except OSError as exc:
            log.warning("ring file unavailable, keeping the loaded ring",
                        extra={"path": str(self.path), "error": exc.strerror})
            return False
        if key == self._key:
            return False
        try:
            ring = load_ring(self.path, self.hash_settings)
        except RingError as exc:
            log.warning("new ring file is bad, keeping the loaded ring",
                        extra={"path": str(self.path), "error": str(exc)})
            return False
        self._ring, self._key = ring, key
        log.info("ring reloaded", extra={"path": str(self.path), "version": ring.version})
        return True


# -- builders --------------------------------------------------------------------
def builder_bytes(builder: RingBuilder) -> bytes:
    metadata, arrays = builder.to_state()
    return encode(BUILDER_MAGIC, metadata, arrays)


def builder_from_bytes(data: bytes, what: str = "builder") -> RingBuilder:
    contents = decode(data, BUILDER_MAGIC, what)
    try:
        return RingBuilder.from_state(contents.metadata, contents.arrays, devices_from(contents.metadata, what))
    except RingError as exc:
        raise RingError(f"{what}: {exc}") from None


def save_builder(builder: RingBuilder, path: str | os.PathLike[str]) -> None:
    atomic_write(Path(path), builder_bytes(builder))


def load_builder(path: str | os.PathLike[str]) -> RingBuilder:
    return builder_from_bytes(read_file(path), what=str(path))
