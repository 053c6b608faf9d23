"""Version names: inverted timestamps sort newest first, ids round-trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from martlet.errors import BadRequest
from martlet.timestamp import Timestamp
from proxy.object_versioning.names import (
    check_version, invert, location_in, parse_version_object, primary_of, split_v1_path, target_in, version_id,
    version_object, versioning_of, versions_container,
)

ticks = st.integers(min_value=0, max_value=999_999_999_999_999)


@given(ticks)
def test_inverting_twice_is_identity(value: int) -> None:
    stamp = Timestamp(value)
    assert invert(invert(stamp)) == stamp


@given(ticks, ticks)
def test_newer_versions_sort_first(a: int, b: int) -> None:
    older, newer = sorted((Timestamp(a), Timestamp(b)))
    assert version_object("o", newer.internal) <= version_object("o", older.internal)


def test_version_object_round_trip() -> None:
    name = version_object("dir/obj", "1700000000.12345")
    assert name == "\x00dir/obj\x00" + invert(Timestamp.parse("1700000000.12345")).internal
    assert parse_version_object(name) == ("dir/obj", "1700000000.12345")
    assert parse_version_object("plain") == ("plain", None)
    assert parse_version_object("\x00a\x00not-a-stamp") == ("\x00a\x00not-a-stamp", None)


def test_version_id_drops_the_offset() -> None:
    assert version_id("1700000000.00001_0000000000000002") == "1700000000.00001"


def test_check_version() -> None:
    assert check_version("null") == "null"
    assert check_version("1700000000.5") == "1700000000.5"
    for bad in ("junk", "", "-1", "1.2.3"):
        with pytest.raises(BadRequest):
            check_version(bad)
    with pytest.raises(BadRequest):
        check_version("null", allow_null=False)


def test_versions_container_names() -> None:
    name = versions_container("c")
    assert primary_of(name) == "c"
    assert primary_of("c") is None


def test_versioning_of_sysmeta() -> None:
    assert not versioning_of({}).ever
    got = versioning_of({"versions-container": "%00versions%00c", "versions-enabled": "True"})
    assert got.container == "\x00versions\x00c" and got.enabled


def test_locations() -> None:
    versions = versions_container("c")
    obj = version_object("o", "1700000000.00000")
    assert location_in("/v1/AUTH_a/%00versions%00c/%00o%00" + obj[3:], "AUTH_a", versions) == obj
    assert location_in("/v1/AUTH_a/other/x", "AUTH_a", versions) is None
    assert location_in("/v1/AUTH_b/%00versions%00c/" + obj.replace("\x00", "%00"), "AUTH_a", versions) is None
    assert location_in("/v1/AUTH_a/%00versions%00c/", "AUTH_a", versions) is None
    assert split_v1_path("/v1/AUTH_a/c/d/e%2Ff") == ("AUTH_a", "c", "d/e/f")
    assert split_v1_path("/v1/AUTH_a/c") is None
    assert target_in("%00versions%00c/" + obj.replace("\x00", "%00"), versions) == obj
    assert target_in("c/o", versions) is None
