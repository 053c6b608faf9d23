"""The object metadata codec: a msgpack map in xattrs, split into chunks.

Why this shape: ext4 keeps all of an inode's xattrs in one 4 KiB block (plus
a few bytes in the inode), which measures here as about 4000 bytes of values.
Swift allows 4096 bytes of user metadata alone, plus a 1024-byte object name
and a 256-byte content type, so the worst case cannot fit in xattrs whatever
the encoding. The codec therefore:

1. packs compact keys (``n`` name, ``t`` timestamp, ``e`` etag, ``l`` length,
   ``c`` content type, ``d`` X-Delete-At, ``m`` user metadata without its
   ``X-Object-Meta-`` prefix, ``s`` other persisted headers) with msgpack;
2. if that is larger than ``COMPRESS_OVER`` bytes and zlib makes it smaller,
   stores ``{"v": 1, "z": <zlib bytes>}`` instead;
3. writes the blob in chunks of ``XATTR_CHUNK_SIZE`` to ``user.martlet.meta``,
   ``user.martlet.meta1``, ...;
4. when the filesystem refuses (ENOSPC/E2BIG: the xattr block is full), the
   documented fallback: the blob goes into the file itself, right after the
   body (offset = content length; 0 for .meta/.ts), and the xattr holds only
   ``{"v": 1, "x": [offset, length, crc32]}``. The body is always exactly
   ``content_length`` bytes from offset 0, so readers (GET, auditor,
   replicator) never confuse the two.

Anything unreadable - missing xattr, bad msgpack, wrong version, bad crc -
raises ``CorruptObject``: the object counts as corrupt (the auditor
quarantines it), and a request sees 404, never a 500.
"""

from __future__ import annotations

import errno
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from martlet.errors import BadRequest, DeviceUnavailable, NotFound
from martlet.timestamp import Timestamp

XATTR_NAME = "user.martlet.meta"
XATTR_CHUNK_SIZE = 2000  # two chunks reach the ~4056 bytes ext4 gives values
MAX_CHUNKS = 64  # a bound on reading, so a corrupt file cannot loop forever
COMPRESS_OVER = 1024
FORMAT_VERSION = 1
USER_META_PREFIX = "x-object-meta-"
SYSMETA_PREFIX = "x-object-sysmeta-"
# Persisted from a PUT only: they describe the body, not the object's labels.
PUT_ONLY_HEADERS = frozenset({"x-static-large-object"})


def sticks_to_data(header: str) -> bool:
    """True for sys_meta a POST cannot replace (it belongs to the .data)."""
    lower = header.lower()
    return lower.startswith(SYSMETA_PREFIX) or lower in PUT_ONLY_HEADERS

# errnos with which a filesystem says "no room for that xattr".
_XATTR_FULL = frozenset({errno.ENOSPC, errno.E2BIG, errno.ERANGE})
_XATTR_UNSUPPORTED = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP})


class CorruptObject(NotFound):
    """An object whose metadata (or body) cannot be trusted.

    A 404 if it reaches a client; the auditor catches it to quarantine."""


class XattrUnsupported(DeviceUnavailable):
    """The device's filesystem has no user xattrs: nothing can be stored."""


@dataclass(frozen=True)
class ObjectMetadata:
    """What is stored with a .data, .meta or .ts file.

    ``etag`` and ``content_length`` are set for .data only; ``user_meta``
    maps a user metadata name (without ``X-Object-Meta-``) to its value;
    ``sys_meta`` holds other persisted headers (Content-Encoding,
    X-Object-Manifest, X-Object-Sysmeta-*, ...) by their header name.
    """

    name: str
    timestamp: Timestamp
    etag: str | None = None
    content_length: int | None = None
    # CRC-32 of the body, stored by the daemon that wrote it (newer .data
    # only): a GET checks this instead of the md5, for an eighth of the CPU.
    crc32: int | None = None
    content_type: str | None = None
    delete_at: int | None = None
    user_meta: Mapping[str, str] = field(default_factory=dict)
    sys_meta: Mapping[str, str] = field(default_factory=dict)


def pack_metadata(meta: ObjectMetadata) -> bytes:
    """The plain msgpack map (step 1)."""
    data: dict[str, Any] = {"v": FORMAT_VERSION, "n": meta.name, "t": meta.timestamp.internal}
    if meta.etag is not None:
        data["e"] = meta.etag
    if meta.content_length is not None:
        data["l"] = meta.content_length
    if meta.crc32 is not None:
        data["k"] = meta.crc32
    if meta.content_type is not None:
        data["c"] = meta.content_type
    if meta.delete_at is not None:
        data["d"] = meta.delete_at
    if meta.user_meta:
        data["m"] = dict(meta.user_meta)
    if meta.sys_meta:
        data["s"] = dict(meta.sys_meta)
    return msgpack.packb(data, use_bin_type=True)


def encode_metadata(meta: ObjectMetadata) -> bytes:
    """The blob stored for ``meta``: plain, or zlib-wrapped when that is smaller."""
    plain = pack_metadata(meta)
    if len(plain) > COMPRESS_OVER:
        wrapped = msgpack.packb({"v": FORMAT_VERSION, "z": zlib.compress(plain, 6)}, use_bin_type=True)
        if len(wrapped) < len(plain):
            return wrapped
    return plain


def _unpack_map(blob: bytes) -> dict[str, Any]:
    try:
        data = msgpack.unpackb(blob, raw=False, strict_map_key=True)
    except (ValueError, msgpack.UnpackException) as exc:
        raise CorruptObject(f"undecodable metadata: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
        raise CorruptObject("metadata of an unknown format")
    return data


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise CorruptObject("metadata map malformed")
    return dict(value)


def decode_metadata(blob: bytes) -> ObjectMetadata:
    """The inverse of ``encode_metadata``; CorruptObject for anything else.

    A trailer stub (``"x"``) is not resolved here: see ``read_metadata``.
    """
    data = _unpack_map(blob)
    if "z" in data:
        try:
            data = _unpack_map(zlib.decompress(data["z"]))
        except (zlib.error, TypeError) as exc:
            raise CorruptObject(f"undecompressable metadata: {exc}") from None
    try:
        meta = ObjectMetadata(
            name=str(data["n"]),
            timestamp=Timestamp.parse(str(data["t"])),
            etag=data.get("e"),
            content_length=data.get("l"),
            crc32=data.get("k"),
            content_type=data.get("c"),
            delete_at=data.get("d"),
            user_meta=_str_map(data.get("m", {})),
            sys_meta=_str_map(data.get("s", {})),
        )
    except (KeyError, ValueError, TypeError, BadRequest) as exc:
        raise CorruptObject(f"metadata incomplete: {exc}") from None
    if meta.content_length is not None and (
        not isinstance(meta.content_length, int) or meta.content_length < 0
    ):
        raise CorruptObject("metadata length malformed")
    if meta.etag is not None and not isinstance(meta.etag, str):
        raise CorruptObject("metadata etag malformed")
    if meta.crc32 is not None and (
        not isinstance(meta.crc32, int) or isinstance(meta.crc32, bool) or not 0 <= meta.crc32 < 1 << 32
    ):
        raise CorruptObject("metadata CRC-32 malformed")
    return meta


def split_chunks(blob: bytes, size: int = XATTR_CHUNK_SIZE) -> list[bytes]:
    return [blob[i : i + size] for i in range(0, len(blob), size)] or [b""]


def chunk_name(index: int) -> str:
    return XATTR_NAME if index == 0 else f"{XATTR_NAME}{index}"


def _set_chunks(fd: int, blob: bytes) -> None:
    for index, chunk in enumerate(split_chunks(blob)):
        os.setxattr(fd, chunk_name(index), chunk)


def _remove_chunks(fd: int) -> None:
    for index in range(MAX_CHUNKS):
        try:
            os.removexattr(fd, chunk_name(index))
        except OSError:
            return


def write_metadata(fd: int, meta: ObjectMetadata, trailer_offset: int) -> None:
    """Blocking: store ``meta`` on the open file ``fd`` (xattrs, else trailer).

    ``trailer_offset`` is where the body ends (0 for .meta/.ts files).
    """
    blob = encode_metadata(meta)
    try:
        _set_chunks(fd, blob)
        return
    except OSError as exc:
        if exc.errno in _XATTR_UNSUPPORTED:
            raise XattrUnsupported("filesystem lacks user xattrs") from None
        if exc.errno not in _XATTR_FULL:
            raise
    _remove_chunks(fd)
    os.pwrite(fd, blob, trailer_offset)
    stub = [trailer_offset, len(blob), zlib.crc32(blob)]
    os.setxattr(fd, XATTR_NAME, msgpack.packb({"v": FORMAT_VERSION, "x": stub}))


def read_metadata_blob(fd: int) -> bytes:
    """Blocking: the concatenated xattr chunks; CorruptObject if there are none."""
    chunks: list[bytes] = []
    for index in range(MAX_CHUNKS):
        try:
            chunks.append(os.getxattr(fd, chunk_name(index)))
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                break
            if exc.errno in _XATTR_UNSUPPORTED:
                raise XattrUnsupported("filesystem lacks user xattrs") from None
            raise
    if not chunks:
        raise CorruptObject("no metadata")
    return b"".join(chunks)


def read_metadata(fd: int) -> ObjectMetadata:
    """Blocking: the metadata of the open file ``fd``, following a trailer stub."""
    blob = read_metadata_blob(fd)
    data = _unpack_map(blob)
    if "x" not in data:
        return decode_metadata(blob)
    try:
        offset, length, crc = (int(v) for v in data["x"])
    except (TypeError, ValueError):
        raise CorruptObject("metadata trailer pointer malformed") from None
    trailer = os.pread(fd, length, offset) if length >= 0 and offset >= 0 else b""
    if len(trailer) != length or zlib.crc32(trailer) != crc:
        raise CorruptObject("metadata trailer damaged")
    return decode_metadata(trailer)


def check_xattr_support(directory: str) -> None:
    """Blocking: raise XattrUnsupported if files in ``directory`` take no user xattrs."""
    import tempfile

    with tempfile.TemporaryFile(dir=directory) as handle:
        try:
            os.setxattr(handle.fileno(), XATTR_NAME, b"probe")
        except OSError as exc:
            if exc.errno in _XATTR_UNSUPPORTED:
                raise XattrUnsupported(f"filesystem of {directory} lacks user xattrs") from None
            raise
