"""aws-chunked bodies, against AWS's published multi-chunk example."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from proxy.s3api import sigv4
from proxy.s3api.chunked import chunk_signature, decode
from proxy.s3api.errors import S3Error

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DATE, SCOPE = "20130524T000000Z", "20130524/us-east-1/s3/aws4_request"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
SIGS = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]
KEY = sigv4.signing_key(SECRET, "20130524", "us-east-1", "s3")


def test_seed_signature_of_aws_example() -> None:
    headers = [("Host", "s3.amazonaws.com"), ("x-amz-date", DATE), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
               ("Content-Encoding", "aws-chunked"), ("x-amz-decoded-content-length", "66560"),
               ("Content-Length", "66824"), ("x-amz-content-sha256", sigv4.STREAMING_PAYLOAD)]
    names = ("content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
             "x-amz-decoded-content-length;x-amz-storage-class")
    auth = (f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/{SCOPE}, SignedHeaders={names}, Signature={SEED}")
    signed = sigv4.parse_authorization(auth, {k.lower(): v for k, v in headers})
    assert sigv4.expected_signature(signed, SECRET, "PUT", "/examplebucket/chunkObject.txt", [], headers) == SEED


def _body(sizes: list[int], sigs: list[str]) -> bytes:
    out = b""
    for size, sig in zip(sizes, sigs):
        out += f"{size:x};chunk-signature={sig}\r\n".encode() + b"a" * size + b"\r\n"
    return out


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


async def _collect(body: bytes, length: int, piece: int = 1000) -> bytes:
    return b"".join([c async for c in decode(_pieces(body, piece), KEY, DATE, SCOPE, SEED, length)])


async def test_aws_example_chunks() -> None:
    assert chunk_signature(KEY, DATE, SCOPE, SEED, b"a" * 65536) == SIGS[0]
    body = _body([65536, 1024, 0], SIGS)
    assert len(body) == 66824
    assert await _collect(body, 66560) == b"a" * 66560
    assert await _collect(body, 66560, piece=7) == b"a" * 66560


async def test_bad_chunks_yield_no_last_data() -> None:
    bad = _body([65536, 1024, 0], [SIGS[0], SIGS[0], SIGS[2]])
    seen: list[bytes] = []
    with pytest.raises(S3Error) as wrong:
        async for chunk in decode(_pieces(bad, 4096), KEY, DATE, SCOPE, SEED, 66560):
            seen.append(chunk)
    assert wrong.value.code == "SignatureDoesNotMatch" and sum(map(len, seen)) < 66560
    final_wrong = _body([65536, 1024, 0], [SIGS[0], SIGS[1], SIGS[0]])
    seen = []
    with pytest.raises(S3Error):
        async for chunk in decode(_pieces(final_wrong, 4096), KEY, DATE, SCOPE, SEED, 66560):
            seen.append(chunk)
    assert sum(map(len, seen)) == 65536  # the last chunk's data was held back
    with pytest.raises(S3Error) as short:
        await _collect(_body([65536, 1024], SIGS[:2]), 66560)
    assert short.value.code == "IncompleteBody"
    with pytest.raises(S3Error):
        await _collect(b"zz;chunk-signature=x\r\n", 1)


def _trailed(parts: list[bytes], trailer: bytes) -> bytes:
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n" + trailer + b"\r\n\r\n"


async def test_unsigned_trailer_checksums() -> None:
    import base64
    import hashlib
    import zlib

    from proxy.s3api import trailer

    parts = [b"x" * 70000, b"tail"]
    data = b"".join(parts)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big"))
    sha = base64.b64encode(hashlib.sha256(data).digest())
    for name, value in ((b"x-amz-checksum-crc32", crc), (b"x-amz-checksum-sha256", sha)):
        checked: dict[str, str] = {}
        body = _trailed(parts, name + b":" + value)
        got = [c async for c in trailer.decode(_pieces(body, 999), name.decode(), len(data), checked)]
        assert b"".join(got) == data and checked == {name.decode(): value.decode()}
    seen: list[bytes] = []
    with pytest.raises(S3Error) as wrong:
        async for chunk in trailer.decode(_pieces(_trailed(parts, b"x-amz-checksum-crc32:AAAAAA=="), 999),
                                          "x-amz-checksum-crc32", len(data), {}):
            seen.append(chunk)
    assert wrong.value.code == "BadDigest" and sum(map(len, seen)) == 70000  # the last part held back
    # A body cut short, its trailer made over the whole data: the length is judged first.
    with pytest.raises(S3Error) as short:
        async for _ in trailer.decode(_pieces(_trailed(parts[:1], b"x-amz-checksum-crc32:" + crc), 999),
                                      "x-amz-checksum-crc32", len(data), {}):
            pass
    assert short.value.code == "IncompleteBody"
    for bad in ("x-amz-checksum-crc32c", "", None):
        with pytest.raises(S3Error) as unsupported:
            trailer.checksum_name(bad)
        assert unsupported.value.code == "InvalidRequest"
    assert trailer.checksum_name("X-Amz-Checksum-CRC32") == "x-amz-checksum-crc32"


async def test_bad_framing_is_refused_by_both_decoders() -> None:
    """The framing both bodies share: data not ended by CRLF, or a chunk
    over the limit, is InvalidRequest, signed or with a trailer."""
    from proxy.s3api import trailer
    from proxy.s3api.chunked import MAX_CHUNK
    signed = _body([1024, 0], [SIGS[1], SIGS[2]]).replace(b"a\r\n0;", b"aX\n0;")
    unsigned = _trailed([b"a" * 1024], b"x-amz-checksum-crc32:AAAAAA==").replace(b"a\r\n0\r\n", b"aX\n0\r\n")
    huge = f"{MAX_CHUNK + 1:x}\r\n".encode()
    bodies = [decode(_pieces(signed, 100), KEY, DATE, SCOPE, SEED, 1024),
              trailer.decode(_pieces(unsigned, 100), "x-amz-checksum-crc32", 1024, {}),
              decode(_pieces(f"{MAX_CHUNK + 1:x};chunk-signature={SIGS[0]}\r\n".encode(), 100), KEY, DATE, SCOPE,
                     SEED, MAX_CHUNK + 1),
              trailer.decode(_pieces(huge, 100), "x-amz-checksum-crc32", MAX_CHUNK + 1, {})]
    for body in bodies:
        with pytest.raises(S3Error) as bad:
            async for _ in body:
                pass
        assert bad.value.code == "InvalidRequest"
