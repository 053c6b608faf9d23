import pytest

from martlet.backend import backend_path
from martlet.errors import BadRequest
from martlet.swift_path import SwiftPath
from storage.paths import EntityPath, entity_type, parse_entity_path, parse_replicate_path


def test_round_trip_with_backend_path() -> None:
    raw = backend_path("sda", 7, "AUTH_t", "c ü", "dir/obj?x=1#frag")
    assert parse_entity_path(raw) == EntityPath("sda", 7, SwiftPath("AUTH_t", "c ü", "dir/obj?x=1#frag"))


@pytest.mark.parametrize(
    "raw",
    [
        "/sda/1",  # too short
        "//1/a",  # empty device
        "/../1/a",
        "/./1/a",
        "/%2E%2E/1/a",  # .. once unquoted
        "/a%2Fb/1/a",  # slash once unquoted
        "/sda/-1/a",
        "/sda/x/a",
        "/sda/99999999999/a",
        "/sda/1/a%ff",  # not UTF-8
        "/sda/1/a/c%00",  # NUL
        "/sda/1/a//o",  # empty container
        "/sda/1/a/c/",  # empty object
        "/sda/1/" + "a" * 257,
        "/sda/1/a/" + "c" * 257,
        "/sda/1/a/c/" + "o" * 1025,
        "/sda/1/a/c/" + "%C3%BC" * 513,  # 1026 bytes of UTF-8
    ],
)
def test_bad_paths_are_400(raw: str) -> None:
    with pytest.raises(BadRequest):
        parse_entity_path(raw)


def test_object_of_exactly_1024_bytes_is_fine() -> None:
    assert parse_entity_path("/sda/1/a/c/" + "o" * 1024).names.obj == "o" * 1024


def test_entity_type_by_depth_and_header() -> None:
    assert entity_type(3, None) == "account"
    assert entity_type(4, None) == "container"
    assert entity_type(5, None) == "object"
    assert entity_type(5, "container") == "container"  # object row update
    assert entity_type(4, "Account") == "account"  # container row update
    for depth, header in ((3, "container"), (5, "account"), (4, "object"), (5, "bogus")):
        with pytest.raises(BadRequest):
            entity_type(depth, header)


def test_replicate_path() -> None:
    parsed = parse_replicate_path("/sdb/12/abc-fff")
    assert (parsed.device, parsed.partition, parsed.rest) == ("sdb", 12, ("abc-fff",))
    assert parse_replicate_path("/sdb/12").rest == ()
    with pytest.raises(BadRequest):
        parse_replicate_path("/sdb")


def test_reserved_names_only_where_the_proxy_allows_them() -> None:
    raw = backend_path("sda", 1, "AUTH_t", "\x00versions\x00c", "\x00o\x0099")
    with pytest.raises(BadRequest):
        parse_entity_path(raw)
    assert parse_entity_path(raw, allow_reserved=True).names == SwiftPath("AUTH_t", "\x00versions\x00c", "\x00o\x0099")
    with pytest.raises(BadRequest):
        parse_entity_path("/%00/1/a", allow_reserved=True)  # a device never
