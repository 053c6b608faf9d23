"""A tar archive read as it arrives (``?extract-archive``), never held whole.

Python's ``tarfile`` reads a blocking file object; the archive here is an
aiohttp request body, and each file in it streams on into a PUT while the
rest of the archive is still on the wire. So this module reads tar itself:

* the pure part parses the 512-byte header blocks (ustar, GNU long names,
  pax extended headers, octal and base-256 numbers, the checksum);
* ``ArchiveStream`` turns the body's chunks into decompressed bytes
  (``tar``, ``tar.gz`` - several gzip members too - ``tar.bz2``), at most
  ``piece`` bytes at a time, so a small compressed chunk that inflates to
  gigabytes never sits in memory;
* ``TarReader`` walks the members: ``next_member`` skips whatever of the
  previous member's data was not read and returns the next header, ``body``
  yields the current member's data.

Anything malformed is a ``TarError`` (Swift's "Invalid Tar File: ...").
"""

from __future__ import annotations

import bz2
import re
import struct
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field

BLOCK = 512
# A pax record or GNU long name bigger than this is refused: they are read
# into memory, and real ones are a few hundred bytes.
MAX_EXTENDED_HEADER = 1 << 20
FILE_TYPES = frozenset({b"0", b"\x00", b"7"})  # regular, old regular, contiguous
# Types whose size field is not followed by data (links, devices, directories).
NO_DATA_TYPES = frozenset({b"1", b"2", b"3", b"4", b"5", b"6"})
COMPRESSIONS = {"tar": "", "tar.gz": "gz", "tar.bz2": "bz2"}
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")
_POSIX_MAGIC = b"ustar\x0000"


class TarError(ValueError):
    """The archive cannot be read (malformed, truncated, bad compression)."""


# --- header blocks (pure) ---------------------------------------------------

@dataclass(frozen=True)
class Header:
    name: str
    size: int
    typeflag: bytes


def _text(data: bytes) -> str:
    """A NUL-terminated header field as text (bytes that are no UTF-8 kept
    as surrogates, as ``tarfile`` does; the caller decides about them)."""
    return data.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def parse_number(data: bytes) -> int:
    """A numeric header field: octal digits, or GNU's base-256."""
    if data and data[0] in (0o200, 0o377):
        value = int.from_bytes(data[1:], "big")
        return value - 256 ** (len(data) - 1) if data[0] == 0o377 else value
    text = data.split(b"\x00", 1)[0].strip()
    try:
        return int(text or b"0", 8)
    except ValueError:
        raise TarError("invalid header") from None


def _checksum_ok(block: bytes) -> bool:
    stored = parse_number(block[148:156])
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    signed = sum(struct.unpack("148b8x356b", block)) + 8 * 32
    return stored in (unsigned, signed)


def parse_header(block: bytes) -> Header | None:
    """One header block; None for an all-zero block (the archive's end)."""
    if len(block) != BLOCK:
        raise TarError("unexpected end of data")
    if block.count(0) == BLOCK:
        return None
    if not _checksum_ok(block):
        raise TarError("bad checksum")
    name = _text(block[0:100])
    typeflag = block[156:157]
    if block[257:265] == _POSIX_MAGIC and block[345] != 0:
        name = _text(block[345:500]) + "/" + name
    size = parse_number(block[124:136])
    if size < 0:
        raise TarError("invalid header")
    if typeflag == b"\x00" and name.endswith("/"):
        typeflag = b"5"  # an old-style directory
    return Header(name, size, typeflag)


def parse_pax(data: bytes) -> dict[str, str]:
    """The ``<length> <key>=<value>\\n`` records of a pax extended header."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        match = _PAX_RECORD.match(data, pos)
        if match is None:
            raise TarError("invalid pax header")
        length = int(match.group(1))
        end = pos + length
        if length < 1 or end > len(data) or data[end - 1:end] != b"\n":
            raise TarError("invalid pax header")
        key = match.group(2).decode("utf-8", "surrogateescape")
        records[key] = data[match.end():end - 1].decode("utf-8", "surrogateescape")
        pos = end
    return records


def padding(size: int) -> int:
    """Bytes after ``size`` bytes of data up to the next block."""
    return -size % BLOCK


@dataclass(frozen=True)
class Member:
    """One archive member: its name (pax ``path`` or GNU long name applied),
    its data's size, and its pax records (``SCHILY.xattr...``)."""

    name: str
    size: int
    is_file: bool
    pax: Mapping[str, str] = field(default_factory=dict)


def member_of(header: Header, pax: Mapping[str, str], long_name: str | None) -> Member:
    name = pax.get("path") or long_name or header.name
    size = header.size
    if "size" in pax:
        if not pax["size"].isdigit():
            raise TarError("invalid pax size")
        size = int(pax["size"])
    if header.typeflag in NO_DATA_TYPES:
        size = 0
    return Member(name, size, header.typeflag in FILE_TYPES, dict(pax))


# --- decompression -----------------------------------------------------------

class _Decoder:
    """Decompressed pieces of each compressed chunk fed, none above ``piece``."""

    def __init__(self, compression: str, piece: int) -> None:
        self.compression = compression
        self.piece = piece
        self._engine = self._new()

    def _new(self) -> zlib._Decompress | bz2.BZ2Decompressor | None:
        if self.compression == "gz":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.compression == "bz2":
            return bz2.BZ2Decompressor()
        return None

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._feed(data)
        except (zlib.error, OSError, EOFError) as exc:
            raise TarError(f"{self.compression} decompression failed: {exc}") from None

    def _feed(self, data: bytes) -> Iterator[bytes]:
        engine = self._engine
        if engine is None:
            for start in range(0, len(data), self.piece):
                yield data[start:start + self.piece]
            return
        while True:
            if engine.eof:  # a member or stream ended: another may follow
                data = engine.unused_data + data
                if not data.strip(b"\x00"):
                    return  # trailing padding after the last member
                engine = self._engine = self._new()
                assert engine is not None
            if isinstance(engine, bz2.BZ2Decompressor):
                out = engine.decompress(data, self.piece)
                data = b""
                more = not engine.needs_input and not engine.eof
            else:
                out = engine.decompress(data, self.piece)
                data = engine.unconsumed_tail
                more = bool(data) or len(out) == self.piece
            if out:
                yield out
            if not more and not (engine.eof and engine.unused_data):
                return


class ArchiveStream:
    """The decompressed bytes of an archive whose compressed bytes come
    from ``chunks``."""

    def __init__(self, chunks: AsyncIterator[bytes], compression: str, piece: int = 65536) -> None:
        self._chunks = chunks
        self._decoder = _Decoder(compression, piece)
        self._pending: Iterator[bytes] = iter(())
        self._buffer = bytearray()
        self._ended = False

    async def _fill(self) -> bool:
        """More bytes into the buffer; False at the end of the stream."""
        while not self._ended:
            for piece in self._pending:
                if piece:
                    self._buffer += piece
                    return True
            chunk = await anext(self._chunks, None)
            if chunk is None:
                self._ended = True
            else:
                self._pending = self._decoder.feed(chunk)
        return False

    async def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; ``b""`` only at the end."""
        if not self._buffer and not await self._fill():
            return b""
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def read_exactly(self, size: int) -> bytes:
        """``size`` bytes, or fewer only if the stream ended first."""
        while len(self._buffer) < size and await self._fill():
            pass
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def skip(self, size: int) -> None:
        while size > 0:
            data = await self.read(min(size, 1 << 20))
            if not data:
                raise TarError("unexpected end of data")
            size -= len(data)


# --- members -------------------------------------------------------------------

class TarReader:
    """The members of a tar archive, in order, as they arrive."""

    def __init__(self, stream: ArchiveStream, piece: int = 65536) -> None:
        self._stream = stream
        self._piece = piece
        self._left = 0  # data of the current member not yet read
        self._pad = 0

    async def next_member(self) -> Member | None:
        """The next member's header (its data unread); None at the end."""
        await self._stream.skip(self._left + self._pad)
        self._left = self._pad = 0
        pax: dict[str, str] = {}
        long_name: str | None = None
        while True:
            block = await self._stream.read_exactly(BLOCK)
            if not block:
                return None  # ended at a block boundary without the zero blocks
            header = parse_header(block)
            if header is None:
                return None
            if header.typeflag not in (b"x", b"g", b"L", b"K"):
                member = member_of(header, pax, long_name)
                self._left, self._pad = member.size, padding(member.size)
                return member
            if header.size > MAX_EXTENDED_HEADER:
                raise TarError("extended header too large")
            data = await self._stream.read_exactly(header.size + padding(header.size))
            if len(data) < header.size + padding(header.size):
                raise TarError("unexpected end of data")
            data = data[:header.size]
            if header.typeflag == b"x":
                pax.update(parse_pax(data))
            elif header.typeflag == b"L":
                long_name = _text(data)
            # "g" (global pax) and "K" (long link name) change no file we keep

    async def body(self) -> AsyncIterator[bytes]:
        """The current member's data, in pieces."""
        while self._left > 0:
            data = await self._stream.read(min(self._piece, self._left))
            if not data:
                raise TarError("unexpected end of data")
            self._left -= len(data)
            yield data
