"""proxy.bulk.tar_stream against archives Python's tarfile writes (every
format, compression and header kind), fed in awkward chunk sizes, and
against broken ones: each is a TarError, never anything else."""

from __future__ import annotations

import bz2
import gzip
import io
import tarfile
import zlib
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings, strategies as st

from proxy.bulk.tar_stream import (
    BLOCK, ArchiveStream, TarError, TarReader, parse_header, parse_number, parse_pax,
)


def make_tar(files: list[tuple[str, bytes]], fmt: int = tarfile.PAX_FORMAT, mode: str = "w",
             pax: dict[str, dict[str, str]] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=fmt) as archive:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.pax_headers = (pax or {}).get(name, {})
            archive.addfile(info, io.BytesIO(data))
        directory = tarfile.TarInfo("a-directory")
        directory.type = tarfile.DIRTYPE
        archive.addfile(directory)
        link = tarfile.TarInfo("a-link")
        link.type, link.linkname = tarfile.SYMTYPE, "elsewhere"
        archive.addfile(link)
    return buf.getvalue()


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def read_all(data: bytes, compression: str = "", chunk: int = 1000, piece: int = 700
                   ) -> list[tuple[str, bool, bytes, dict[str, str]]]:
    reader = TarReader(ArchiveStream(chunked(data, chunk), compression, piece), piece)
    members = []
    while (member := await reader.next_member()) is not None:
        body = b"".join([part async for part in reader.body()]) if member.is_file else b""
        members.append((member.name, member.is_file, body, dict(member.pax)))
    return members


FILES = [("c/one.txt", b"hello"), ("c/sub/two.bin", bytes(range(256)) * 9), ("empty", b""),
         ("c/" + "long-name-" * 20, b"long"), ("c/snow\u2603", "\u2603".encode())]
# What ustar can name: a long path only through its prefix field.
USTAR_FILES = [("c/one.txt", b"hello"), ("c/" + "p" * 120 + "/f", b"prefixed"), ("empty", b"")]


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
async def test_every_format_reads_back(fmt: int) -> None:
    files = FILES if fmt != tarfile.USTAR_FORMAT else USTAR_FILES
    members = await read_all(make_tar(files, fmt))
    assert [(n, b) for n, is_file, b, _ in members if is_file] == files
    assert [n.rstrip("/") for n, is_file, _, _ in members if not is_file] == ["a-directory", "a-link"]


@pytest.mark.parametrize("mode,compression", [("w:gz", "gz"), ("w:bz2", "bz2")])
async def test_compressed_archives(mode: str, compression: str) -> None:
    members = await read_all(make_tar(FILES, mode=mode), compression, chunk=37)
    assert [(n, b) for n, is_file, b, _ in members if is_file] == FILES


async def test_several_gzip_members_and_bzip2_streams_are_one_archive() -> None:
    raw = make_tar(FILES)
    half = len(raw) // 2
    assert [m[0] for m in await read_all(gzip.compress(raw[:half]) + gzip.compress(raw[half:]), "gz")] == \
        [m[0] for m in await read_all(raw)]
    assert len(await read_all(bz2.compress(raw[:half]) + bz2.compress(raw[half:]), "bz2")) == len(FILES) + 2


async def test_pax_records_reach_the_member() -> None:
    pax = {"c/one.txt": {"SCHILY.xattr.user.meta.color": "blue", "SCHILY.xattr.user.mime_type": "text/x"}}
    members = await read_all(make_tar(FILES, pax=pax))
    assert members[0][3]["SCHILY.xattr.user.meta.color"] == "blue"


async def test_unread_data_is_skipped() -> None:
    reader = TarReader(ArchiveStream(chunked(make_tar(FILES), 100), "", 64), 64)
    names = []
    while (member := await reader.next_member()) is not None:
        names.append(member.name)
        if member.name == "c/sub/two.bin":
            await anext(reader.body())  # read a little, leave the rest
    assert names[:len(FILES)] == [n for n, _ in FILES]


async def test_a_decompression_bomb_comes_out_in_bounded_pieces() -> None:
    data = make_tar([("c/zeros", bytes(20_000_000))], mode="w:gz")
    assert len(data) < 100_000
    stream = ArchiveStream(chunked(data, len(data)), "gz", 65536)
    sizes = set()
    while piece := await stream.read(1 << 30):
        sizes.add(len(piece))
    assert max(sizes) <= 65536


@pytest.mark.parametrize("damage", ["truncated-header", "truncated-data", "checksum", "gzip", "bz2"])
async def test_broken_archives_are_tar_errors(damage: str) -> None:
    raw = make_tar(USTAR_FILES, tarfile.USTAR_FORMAT) if damage == "checksum" else make_tar(FILES)
    compression = ""
    if damage == "truncated-header":
        raw = raw[:BLOCK + 100]
    elif damage == "truncated-data":
        raw = raw[:BLOCK + 3]
    elif damage == "checksum":
        raw = raw[:10] + b"X" + raw[11:]
    elif damage == "gzip":
        raw, compression = gzip.compress(raw)[:-40] + b"garbage" * 10, "gz"
    else:
        raw, compression = b"BZh9" + b"\x00" * 100, "bz2"
    with pytest.raises(TarError):
        await read_all(raw, compression)


async def test_not_gzip_at_all_is_a_tar_error() -> None:
    with pytest.raises(TarError):
        await read_all(b"this is no gzip" * 100, "gz")


async def test_an_archive_without_end_blocks_ends_at_its_last_member() -> None:
    raw = make_tar([("c/x", b"data")])
    members = await read_all(raw[:2 * BLOCK])  # its header and its one data block
    assert members == [("c/x", True, b"data", {})]


def test_numbers_octal_and_base256() -> None:
    assert parse_number(b"0000644\x00") == 0o644
    assert parse_number(b"   \x00") == 0
    assert parse_number(bytes([0x80]) + (5 * 2**33).to_bytes(11, "big")) == 5 * 2**33
    with pytest.raises(TarError):
        parse_number(b"12x4")


def test_headers() -> None:
    assert parse_header(bytes(BLOCK)) is None
    with pytest.raises(TarError):
        parse_header(b"short")
    block = tarfile.TarInfo("name").tobuf(tarfile.USTAR_FORMAT)[:BLOCK]
    header = parse_header(block)
    assert header is not None and (header.name, header.size, header.typeflag) == ("name", 0, b"0")


def test_pax_records() -> None:
    assert parse_pax(b"11 path=ab\n13 size=1234\n") == {"path": "ab", "size": "1234"}
    for bad in (b"x path=ab\n", b"99 path=ab\n", b"10 path=ab!"):
        with pytest.raises(TarError):
            parse_pax(bad)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.text("abc/\u00e9", min_size=1, max_size=120).map(lambda s: "c/" + s.strip("/") + "f"),
                          st.binary(max_size=3000)), max_size=5),
       st.integers(1, 2000), st.sampled_from(["", "gz", "bz2"]))
async def test_any_archive_reads_back_whatever_the_chunking(files: list[tuple[str, bytes]], chunk: int,
                                                            compression: str) -> None:
    raw = make_tar(files)
    data = {"": raw, "gz": gzip.compress(raw), "bz2": bz2.compress(raw)}[compression]
    members = await read_all(data, compression, chunk)
    assert [(n, b) for n, is_file, b, _ in members if is_file] == files


def test_zlib_is_what_gzip_uses() -> None:  # the decoder's wbits choice stays honest
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(gzip.compress(b"x")) == b"x"
