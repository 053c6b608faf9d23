import pytest

from martlet.errors import (
    BadRequest, EntityTooLarge, LengthRequired, MethodNotAllowed, NotFound, PreconditionFailed, Unsupported,
)
from martlet.swift_path import SwiftPath
from proxy import constraints as c


def test_split_swift_path():
    assert c.split_swift_path("/v1/AUTH_test/cont/a/b%20c.txt?x=1") == SwiftPath("AUTH_test", "cont", "a/b c.txt")
    assert c.split_swift_path("/v1/AUTH_test/cont/") == SwiftPath("AUTH_test", "cont")
    assert c.split_swift_path("/v1/AUTH_test/") == SwiftPath("AUTH_test")
    assert c.split_swift_path("/v1.0/AUTH_test") == SwiftPath("AUTH_test")
    # decoded before it is split, as Swift: %2F separates names
    assert c.split_swift_path("/v1/a/c%2Fo%2Fp") == SwiftPath("a", "c", "o/p")
    assert c.split_swift_path("/v1/a/c//o/") == SwiftPath("a", "c", "/o/")
    # raw UTF-8 as aiohttp's parser hands it over (surrogate escapes for non-UTF-8)
    assert c.split_swift_path("/v1/a/\u2603/o") == SwiftPath("a", "\u2603", "o")


@pytest.mark.parametrize(
    "path,error,reason",
    [
        ("/v1/a/%FF", PreconditionFailed, "Invalid UTF8 or contains NULL"),
        ("/v1/a/\udcff\udcfe", PreconditionFailed, "Invalid UTF8 or contains NULL"),
        ("/v1/a/c/%00", PreconditionFailed, "Invalid UTF8 or contains NULL"),
        ("/v1/AUTH_test/abc%00def", PreconditionFailed, "Invalid UTF8 or contains NULL"),
        ("/v1", PreconditionFailed, "Bad URL"),
        ("/v1/", PreconditionFailed, "Bad URL"),
        ("/info%20asdf", PreconditionFailed, "Bad URL"),
        ("/info/", PreconditionFailed, "Bad URL"),
        ("/v1//c/o", NotFound, None),
        ("/v1/a//o", NotFound, None),
        ("/v1///o", NotFound, None),
        ("/v1/a//", NotFound, None),
        ("//v1/a", NotFound, None),
        ("/", NotFound, None),
        ("/v2/AUTH_test", BadRequest, None),
        ("/v1/a/" + "c" * 257, BadRequest, None),
        ("/v1/a/c/" + "o" * 1025, BadRequest, None),
    ],
)
def test_split_swift_path_answers_as_swift(path, error, reason):
    with pytest.raises(error) as info:
        c.split_swift_path(path)
    assert type(info.value) is error
    if reason is not None:
        assert info.value.reason == reason


def test_name_limits_count_bytes():
    c.check_object_name("o" * 1024)
    c.check_container_name("é" * 128)
    with pytest.raises(BadRequest):
        c.check_container_name("é" * 129)


def test_metadata_limits():
    c.check_metadata({"X-Object-Meta-" + "k" * 128: "v" * 256, "Other": "x" * 8192}, "object")
    with pytest.raises(BadRequest, match="Header value too long"):
        c.check_metadata({"Other": "x" * 8193}, "object")
    with pytest.raises(BadRequest, match="Metadata name too long"):
        c.check_metadata({"X-Object-Meta-" + "k" * 129: "v"}, "object")
    with pytest.raises(BadRequest, match="Metadata value longer than 256"):
        c.check_metadata({"X-Container-Meta-k": "v" * 257}, "container")
    with pytest.raises(BadRequest, match="Too many metadata items"):
        c.check_metadata({f"X-Account-Meta-k{i}": "v" for i in range(91)}, "account")
    many = {f"X-Object-Meta-{i:03d}": "v" * 60 for i in range(70)}  # 70 * 63 > 4096
    with pytest.raises(BadRequest, match="Total metadata too large"):
        c.check_metadata(many, "object")
    c.check_metadata({f"X-Object-Meta-{i:02d}": "v" for i in range(90)}, "object")


def test_metadata_that_is_not_utf8():
    """An object may hold any bytes (Swift stores them); accounts and
    containers must be UTF-8; sizes count the bytes as sent."""
    not_utf8 = "caf\udcc3"  # b"caf\xc3" as aiohttp hands it over
    c.check_metadata({"X-Object-Meta-Name": not_utf8}, "object")
    c.check_metadata({"X-Object-Meta-Name": "\udcff" * 256}, "object")
    with pytest.raises(BadRequest, match="Metadata value longer than 256"):
        c.check_metadata({"X-Object-Meta-Name": "\udcff" * 257}, "object")
    for kind in ("container", "account"):
        with pytest.raises(BadRequest, match="Metadata must be valid UTF-8"):
            c.check_metadata({f"X-{kind.title()}-Meta-Name": not_utf8}, kind)
    c.check_metadata({"X-Container-Meta-Name": "\u00e9" * 128}, "container")


def test_object_body():
    assert c.check_object_body({"Content-Length": "10"}, 100) == 10
    assert c.check_object_body({"Transfer-Encoding": "chunked"}, 100) is None
    assert c.check_object_body({"Transfer-Encoding": "Chunked"}, 100) is None
    with pytest.raises(LengthRequired):
        c.check_object_body({}, 100)
    with pytest.raises(EntityTooLarge):
        c.check_object_body({"Content-Length": "101"}, 100)
    for length in ("ten", "-1", "\u00b2"):
        with pytest.raises(BadRequest):
            c.check_object_body({"Content-Length": length}, 100)
    with pytest.raises(BadRequest):
        c.check_object_body({"Transfer-Encoding": "gzip"}, 100)
    # Swift: several codings are not implemented
    with pytest.raises(Unsupported) as info:
        c.check_object_body({"Transfer-Encoding": "gzip,chunked"}, 100)
    assert info.value.http_status == 501


def test_method_check_names_what_is_allowed():
    c.check_method("GET", ("GET", "HEAD"))
    with pytest.raises(MethodNotAllowed) as info:
        c.check_method("LICK", ("HEAD", "GET"))
    assert info.value.headers == {"Allow": "GET, HEAD"}


def test_guess_content_type():
    assert c.guess_content_type("a/b.txt", None) == "text/plain"
    assert c.guess_content_type("a/b.json", "") == "application/json"
    assert c.guess_content_type("noext", None) == "application/octet-stream"
    assert c.guess_content_type("x.txt", "image/png") == "image/png"
    assert c.guess_content_type("x.txt", "image/png", detect=True) == "text/plain"


def test_delete_at():
    assert c.resolve_delete_at({"X-Delete-After": "60"}, 1000.5) == "1060"
    assert c.resolve_delete_at({"X-Delete-At": "2000"}, 1000.0) == "2000"
    assert c.resolve_delete_at({"X-Delete-At": "2000", "X-Delete-After": "1"}, 1000.0) == "1001"
    assert c.resolve_delete_at({}, 1000.0) is None
    # beyond ten digits: clamped, as Swift
    assert c.resolve_delete_at({"X-Delete-At": "1" * 100}, 1000.0) == "9999999999"
    assert c.resolve_delete_at({"X-Delete-At": "9" * 5000}, 1000.0) == "9999999999"
    assert c.resolve_delete_at({"X-Delete-After": "1" * 100}, 1000.0) == "9999999999"


@pytest.mark.parametrize(
    "headers,reason",
    [
        ({"X-Delete-After": "-1"}, "X-Delete-After in past"),
        ({"X-Delete-After": "0"}, "X-Delete-After in past"),
        ({"X-Delete-After": "x"}, "Non-integer X-Delete-After"),
        ({"X-Delete-After": "1.5"}, "Non-integer X-Delete-After"),
        ({"X-Delete-At": "999"}, "X-Delete-At in past"),
        ({"X-Delete-At": "1000"}, "X-Delete-At in past"),
        ({"X-Delete-At": "-" + "1" * 100}, "X-Delete-At in past"),
        ({"X-Delete-At": "2000.5"}, "Non-integer X-Delete-At"),
        ({"X-Delete-At": "inf"}, "Non-integer X-Delete-At"),
        ({"X-Delete-At": "-inf"}, "Non-integer X-Delete-At"),
        ({"X-Delete-At": "1e400"}, "Non-integer X-Delete-At"),
        ({"X-Delete-At": "nan"}, "Non-integer X-Delete-At"),
        ({"X-Delete-At": "\u0661\u0662"}, "Non-integer X-Delete-At"),
    ],
)
def test_bad_delete_at_is_400(headers, reason):
    with pytest.raises(BadRequest) as info:
        c.resolve_delete_at(headers, 1000.0)
    assert info.value.reason == reason


def test_listing_limit():
    assert c.listing_limit({"limit": "10000"}, 10000) == 10000
    assert c.listing_limit({}, 10000) is None
    # not all ASCII digits: ignored, as Swift ('\u00b2'.isdigit() is true)
    for ignored in ("5000.0", "abc", "-1", "\u00b2", ""):
        assert c.listing_limit({"limit": ignored}, 10000) is None
    with pytest.raises(PreconditionFailed, match="Maximum limit is 10000"):
        c.listing_limit({"limit": "10001"}, 10000)


def test_listing_params():
    names = {"marker", "prefix", "limit"}
    assert c.listing_params("marker=a%00&prefix=b+c&other=x&limit=%C2%B2", names) == {
        "marker": "a\x00", "prefix": "b c", "limit": "\u00b2"}
    assert c.listing_params("prefix=\u2603&marker", names) == {"prefix": "\u2603", "marker": ""}
    assert c.listing_params("", names) == {}
    assert c.listing_params("marker=a&marker=b", names) == {"marker": "b"}
    for query in ("marker=%FF", "prefix=\udcff"):
        with pytest.raises(BadRequest, match="parameter not valid UTF-8"):
            c.listing_params(query, names)


def test_copy_path():
    assert c.check_copy_path("/cont/a/b%20c") == ("cont", "a/b c")
    with pytest.raises(PreconditionFailed):
        c.check_copy_path("just-a-container")
    with pytest.raises(BadRequest):
        c.check_copy_path("/cont/\udcff")
