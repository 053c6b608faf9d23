"""Multipart rules, DeleteObjects documents and the payload check (pure)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import pytest

from proxy.s3api.errors import S3Error
from proxy.s3api.multi_delete import delete_request
from proxy.s3api.multipart_rules import (
    StoredPart, check_parts, copy_range, multipart_etag, part_number, requested_parts, slo_manifest, split_marker,
    stored_parts,
)
from proxy.s3api.payload import verified

UPLOAD = "0123456789abcdef0123456789abcdef"


def _complete(*parts: tuple[int, str]) -> bytes:
    items = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>\"{e}\"</ETag></Part>" for n, e in parts)
    namespace = "http://s3.amazonaws.com/doc/2006-03-01/"
    return f'<CompleteMultipartUpload xmlns="{namespace}">{items}</CompleteMultipartUpload>'.encode()


def test_requested_parts() -> None:
    assert requested_parts(_complete((1, "a"), (3, "b"))) == [(1, "a"), (3, "b")]
    xxe = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><CompleteMultipartUpload/>'
    cases = [(_complete((2, "a"), (1, "b")), "InvalidPartOrder"), (_complete((1, "a"), (1, "a")), "InvalidPartOrder"),
             (b"<CompleteMultipartUpload/>", "MalformedXML"), (b"<nope", "MalformedXML"), (xxe, "MalformedXML")]
    for bad, code in cases:
        with pytest.raises(S3Error) as error:
            requested_parts(bad)
        assert error.value.code == code


def test_check_parts_and_etag() -> None:
    md5s = [hashlib.md5(bytes([i]) * 10).hexdigest() for i in range(3)]
    stored = [StoredPart(i + 1, md5s[i], size, "2024-01-01T00:00:00") for i, size in enumerate((10, 10, 3))]
    chosen = check_parts([(1, md5s[0]), (3, md5s[2])], stored, min_size=5)
    assert [p.number for p in chosen] == [1, 3]
    expected = hashlib.md5(bytes.fromhex(md5s[0]) + bytes.fromhex(md5s[2])).hexdigest() + "-2"
    assert multipart_etag(chosen) == expected
    for requested in ([(4, md5s[0])], [(1, "0" * 32)]):
        with pytest.raises(S3Error) as error:
            check_parts(requested, stored, min_size=5)
        assert error.value.code == "InvalidPart"
    check_parts([(3, md5s[2])], stored, min_size=11)  # the last part may be small
    with pytest.raises(S3Error) as small:
        check_parts([(1, md5s[0]), (2, md5s[1])], stored, min_size=11)
    assert small.value.code == "EntityTooSmall"


def test_names_and_manifest() -> None:
    entries = [{"name": f"k/{UPLOAD}", "hash": "x", "bytes": 0, "last_modified": "t"},
               {"name": f"k/{UPLOAD}/2", "hash": "b" * 32, "bytes": 7, "last_modified": "t"},
               {"name": f"k/{UPLOAD}/10", "hash": "a" * 32, "bytes": 5, "last_modified": "t"},
               {"name": f"k/{UPLOAD}/x", "hash": "c", "bytes": 1, "last_modified": "t"}]
    parts = stored_parts(entries, "k", UPLOAD)
    assert [p.number for p in parts] == [2, 10]
    assert split_marker(f"dir/k/{UPLOAD}") == ("dir/k", UPLOAD)
    assert split_marker(f"k/{UPLOAD}/2") is None
    manifest = json.loads(slo_manifest("b", "k", UPLOAD, parts))
    assert manifest[0] == {"path": f"/b+segments/k/{UPLOAD}/2", "etag": "b" * 32, "size_bytes": 7}
    assert part_number("5", 1000) == 5
    for bad in (None, "0", "1001", "x"):
        with pytest.raises(S3Error):
            part_number(bad, 1000)
    assert copy_range("bytes=0-9") == "bytes=0-9" and copy_range(None) is None
    with pytest.raises(S3Error):
        copy_range("bytes=9-0")


def test_delete_request() -> None:
    body = b"<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b \xc3\xa9</Key></Object></Delete>"
    assert delete_request(body, 10) == (["a", "b é"], True)
    with pytest.raises(S3Error) as too_many:
        delete_request(body, 1)
    assert too_many.value.code == "MalformedXML"
    with pytest.raises(S3Error) as no_key:
        delete_request(b"<Delete><Object><Key></Key></Object></Delete>", 10)
    assert no_key.value.code == "UserKeyMustBeSpecified"


async def _pieces(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_payload_check_holds_the_last_chunk_back() -> None:
    good = hashlib.sha256(b"abcdef").hexdigest()
    assert [c async for c in verified(_pieces(b"ab", b"cd", b"ef"), good)] == [b"ab", b"cd", b"ef"]
    seen: list[bytes] = []
    with pytest.raises(S3Error) as bad:
        async for chunk in verified(_pieces(b"ab", b"cd", b"eX"), good):
            seen.append(chunk)
    assert bad.value.code == "XAmzContentSHA256Mismatch" and seen == [b"ab", b"cd"]
