import pytest

from martlet.errors import BadRequest, EntityTooLarge, LengthRequired, PreconditionFailed
from martlet.swift_path import SwiftPath
from proxy import constraints as c


def test_split_swift_path():
    assert c.split_swift_path("/v1/AUTH_test/cont/a/b%20c.txt?x=1") == (
        "v1", SwiftPath("AUTH_test", "cont", "a/b c.txt"))
    assert c.split_swift_path("/v1/AUTH_test/cont/") == ("v1", SwiftPath("AUTH_test", "cont"))
    assert c.split_swift_path("/v2/AUTH_test") == ("v2", SwiftPath("AUTH_test"))


@pytest.mark.parametrize(
    "path", ["/v1/", "/v1/a//o", "/v1/a/%FF", "/v1/a/c/%00", "/v1/a/" + "c" * 257, "/v1/a/c/" + "o" * 1025]
)
def test_split_swift_path_rejects(path):
    with pytest.raises(BadRequest):
        c.split_swift_path(path)


def test_name_limits_count_bytes():
    c.check_object_name("o" * 1024)
    c.check_container_name("é" * 128)
    with pytest.raises(BadRequest):
        c.check_container_name("é" * 129)


def test_metadata_limits():
    c.check_metadata({"X-Object-Meta-" + "k" * 128: "v" * 256, "Other": "x" * 9999}, "object")
    with pytest.raises(BadRequest):
        c.check_metadata({"X-Object-Meta-" + "k" * 129: "v"}, "object")
    with pytest.raises(BadRequest):
        c.check_metadata({"X-Container-Meta-k": "v" * 257}, "container")
    with pytest.raises(BadRequest):
        c.check_metadata({f"X-Account-Meta-k{i}": "v" for i in range(91)}, "account")
    many = {f"X-Object-Meta-{i:03d}": "v" * 60 for i in range(70)}  # 70 * 63 > 4096
    with pytest.raises(BadRequest):
        c.check_metadata(many, "object")
    c.check_metadata({f"X-Object-Meta-{i:02d}": "v" for i in range(90)}, "object")


def test_object_body():
    assert c.check_object_body({"Content-Length": "10"}, 100) == 10
    assert c.check_object_body({"Transfer-Encoding": "chunked"}, 100) is None
    with pytest.raises(LengthRequired):
        c.check_object_body({}, 100)
    with pytest.raises(EntityTooLarge):
        c.check_object_body({"Content-Length": "101"}, 100)
    with pytest.raises(BadRequest):
        c.check_object_body({"Content-Length": "ten"}, 100)
    with pytest.raises(BadRequest):
        c.check_object_body({"Transfer-Encoding": "gzip"}, 100)


def test_guess_content_type():
    assert c.guess_content_type("a/b.txt", None) == "text/plain"
    assert c.guess_content_type("a/b.json", "") == "application/json"
    assert c.guess_content_type("noext", None) == "application/octet-stream"
    assert c.guess_content_type("x.txt", "image/png") == "image/png"
    assert c.guess_content_type("x.txt", "image/png", detect=True) == "text/plain"


def test_delete_at():
    assert c.resolve_delete_at({"X-Delete-After": "60"}, 1000.5) == "1060"
    assert c.resolve_delete_at({"X-Delete-At": "2000"}, 1000.0) == "2000"
    assert c.resolve_delete_at({}, 1000.0) is None
    for headers in ({"X-Delete-After": "-1"}, {"X-Delete-After": "x"}, {"X-Delete-At": "999"}):
        with pytest.raises(BadRequest):
            c.resolve_delete_at(headers, 1000.0)


def test_listing_limit_and_copy_path():
    c.check_listing_limit({"limit": "10000"}, 10000)
    with pytest.raises(PreconditionFailed):
        c.check_listing_limit({"limit": "10001"}, 10000)
    assert c.check_copy_path("/cont/a/b%20c") == ("cont", "a/b c")
    with pytest.raises(PreconditionFailed):
        c.check_copy_path("just-a-container")
