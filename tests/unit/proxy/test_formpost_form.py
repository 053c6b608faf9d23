"""FormPOST's pure parts: the streaming multipart splitter, dispositions,
the form's fields and signature (proxy.formpost.form)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from proxy.formpost.form import (
    MAX_HEADER_BLOCK,
    FormInvalid,
    MultipartSplitter,
    PartData,
    PartEnd,
    PartStart,
    expiry_headers,
    field_value,
    form_hmac,
    form_integer,
    parse_disposition,
    redirect_location,
    signature_holds,
)

BOUNDARY = b"----b0und"


def body(*parts: tuple[str, bytes], preamble: bytes = b"") -> bytes:
    out = preamble
    for headers, data in parts:
        out += b"--" + BOUNDARY + b"\r\n" + headers.encode() + b"\r\n\r\n" + data + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\n"


def split(data: bytes, piece: int) -> list[tuple[dict[str, str], bytes]]:
    """The parts, feeding ``piece`` bytes at a time."""
    splitter = MultipartSplitter(BOUNDARY)
    events = []
    for i in range(0, len(data), piece):
        events += splitter.feed(data[i:i + piece])
    splitter.finish()
    parts: list[tuple[dict[str, str], bytes]] = []
    for event in events:
        if isinstance(event, PartStart):
            parts.append((dict(event.headers), b""))
        elif isinstance(event, PartData):
            assert event.data
            parts[-1] = (parts[-1][0], parts[-1][1] + event.data)
        else:
            assert isinstance(event, PartEnd)
    return parts


FORM = body(('Content-Disposition: form-data; name="redirect"', b""),
            ('Content-Disposition: form-data; name="max_file_size"', b"1024"),
            ('Content-Disposition: form-data; name="file1"; filename="a.txt"\r\nContent-Type: text/plain',
             b"line one\r\n--not the boundary\r\n--" + BOUNDARY[:-1] + b"\r\nend"),
            ('Content-Disposition: form-data; name="file2"; filename="b.bin"', bytes(range(256)) * 3))


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, 100000])
def test_splitting_does_not_depend_on_how_the_body_arrives(piece: int) -> None:
    parts = split(FORM, piece)
    assert [p[0]["content-disposition"] for p in parts] == [
        'form-data; name="redirect"', 'form-data; name="max_file_size"',
        'form-data; name="file1"; filename="a.txt"', 'form-data; name="file2"; filename="b.bin"']
    assert parts[1][1] == b"1024"
    assert parts[2][0]["content-type"] == "text/plain"
    assert parts[2][1] == b"line one\r\n--not the boundary\r\n--" + BOUNDARY[:-1] + b"\r\nend"
    assert parts[3][1] == bytes(range(256)) * 3


def test_a_big_file_comes_out_in_pieces_held_back_only_a_boundary() -> None:
    splitter = MultipartSplitter(BOUNDARY)
    splitter.feed(b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n")
    for _ in range(100):
        events = splitter.feed(b"x" * 65536)
        assert sum(len(e.data) for e in events if isinstance(e, PartData)) >= 65536 - len(BOUNDARY) - 4


def test_blank_lines_before_the_first_boundary_and_a_part_without_headers() -> None:
    data = b"\r\n\r\n--" + BOUNDARY + b"\r\n\r\nbare\r\n--" + BOUNDARY + b"--"
    assert split(data, 5) == [({}, b"bare")]


@pytest.mark.parametrize("data", [
    b"junk\r\n--" + BOUNDARY + b"\r\n",
    b"--other\r\n",
    b"x" * 200,
])
def test_invalid_starting_boundary(data: bytes) -> None:
    splitter = MultipartSplitter(BOUNDARY)
    with pytest.raises(FormInvalid, match="invalid starting boundary"):
        splitter.feed(data)


@pytest.mark.parametrize("data", [b"", b"--" + BOUNDARY + b"\r\n\r\nunterminated"])
def test_a_truncated_form(data: bytes) -> None:
    splitter = MultipartSplitter(BOUNDARY)
    splitter.feed(data)
    with pytest.raises(FormInvalid):
        splitter.finish()


def test_huge_part_headers_are_refused() -> None:
    splitter = MultipartSplitter(BOUNDARY)
    with pytest.raises(FormInvalid, match="headers too long"):
        splitter.feed(b"--" + BOUNDARY + b"\r\nX: " + b"y" * (MAX_HEADER_BLOCK + 10))


def test_parse_disposition() -> None:
    assert parse_disposition('form-data; name="file1"; filename="a b;c.txt"') == (
        "form-data", {"name": "file1", "filename": "a b;c.txt"})
    assert parse_disposition("form-data; name=plain") == ("form-data", {"name": "plain"})
    assert parse_disposition('multipart/form-data; boundary="xyz"')[1] == {"boundary": "xyz"}
    assert parse_disposition("") == ("", {})
    assert parse_disposition('form-data; filename="q\\"uote"')[1] == {"filename": 'q"uote'}


def test_field_values_and_integers() -> None:
    assert field_value(b"http://x/\r\n") == "http://x/"
    assert field_value(b"10--") == "10"
    with pytest.raises(FormInvalid):
        field_value(b"\xff")
    assert form_integer({}, "max_file_count", "m") == 0
    assert form_integer({"max_file_count": "3"}, "max_file_count", "m") == 3
    with pytest.raises(FormInvalid, match="not an integer"):
        form_integer({"max_file_count": "three"}, "max_file_count", "not an integer")


def test_expiry_headers() -> None:
    assert expiry_headers({"x_delete_at": "1900000000"}) == {"X-Delete-At": "1900000000"}
    assert expiry_headers({"x_delete_after": "60"}) == {"X-Delete-After": "60"}
    assert expiry_headers({}) == {}
    for name in ("x_delete_at", "x_delete_after"):
        with pytest.raises(FormInvalid, match=f"{name} not an integer"):
            expiry_headers({name: ""})


def test_form_signature() -> None:
    attributes = {"redirect": "", "max_file_size": "1024", "max_file_count": "2", "expires": "1900000000"}
    expected = hmac.new(b"key", b"/v1/AUTH_a/c/p\n\n1024\n2\n1900000000", hashlib.sha256).hexdigest()
    assert form_hmac("/v1/AUTH_a/c/p", attributes, "key", "sha256") == expected
    assert form_hmac("/v1/AUTH_a/c/p", {}, "key", "sha1") == hmac.new(
        b"key", b"/v1/AUTH_a/c/p\n\n0\n0\n0", hashlib.sha1).hexdigest()
    assert signature_holds("/v1/AUTH_a/c/p", attributes, ["other", "key"], "sha256", expected)
    assert not signature_holds("/v1/AUTH_a/c/q", attributes, ["key"], "sha256", expected)
    assert not signature_holds("/v1/AUTH_a/c/p", {**attributes, "max_file_size": "2048"}, ["key"], "sha256",
                               expected)
    assert not signature_holds("/v1/AUTH_a/c/p", attributes, [], "sha256", expected)


def test_redirect_location() -> None:
    assert redirect_location("http://x/done", 201, "") == "http://x/done?status=201&message="
    assert redirect_location("http://x/?a=1", 400, "max file count exceeded") == (
        "http://x/?a=1&status=400&message=max%20file%20count%20exceeded")
