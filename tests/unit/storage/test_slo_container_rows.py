"""An SLO manifest's container row: the object server's update overrides,
``swift_bytes`` in the content type, and how listings show such a row."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martlet.content_type import split_swift_bytes, with_swift_bytes
from martlet.errors import BadRequest
from martlet.timestamp import Timestamp
from martlet.swift_path import SwiftPath
from storage.listing import ObjectRecord, render_listing, split_slo_etag
from storage.metadata import ObjectMetadata
from storage.container_updates import container_update_overrides, container_updates
from storage.paths import EntityPath

TARGET = {"X-Container-Host": "127.0.0.1:6001", "X-Container-Device": "d1", "X-Container-Partition": "3"}
PATH = EntityPath("d1", 7, SwiftPath("AUTH_t", "c", "big"))
STAMP = Timestamp.parse("1700000000.00000")


def _meta(content_type: str = "video/mp4") -> ObjectMetadata:
    return ObjectMetadata(name="/AUTH_t/c/big", timestamp=STAMP, etag="m" * 32, content_length=420,
                          content_type=content_type)


def test_split_and_add_swift_bytes() -> None:
    assert split_swift_bytes("text/plain") == ("text/plain", None)
    assert split_swift_bytes("text/plain;swift_bytes=123") == ("text/plain", 123)
    assert split_swift_bytes("text/plain; charset=utf-8; swift_bytes=9") == ("text/plain; charset=utf-8", 9)
    assert split_swift_bytes("text/plain;swift_bytes=nope") == ("text/plain", None)
    assert with_swift_bytes("a/b;swift_bytes=1", 50) == "a/b;swift_bytes=50"


@settings(max_examples=50, deadline=None)
@given(st.from_regex(r"[a-z]{1,8}/[a-z0-9.+-]{1,12}(; ?[a-z]{1,6}=[a-z0-9]{1,6}){0,2}", fullmatch=True),
       st.integers(min_value=0, max_value=2**63))
def test_swift_bytes_round_trip(content_type: str, total: int) -> None:
    assert split_swift_bytes(with_swift_bytes(content_type, total)) == (content_type, total)


def test_updates_use_the_overrides() -> None:
    headers = {**TARGET, "X-Backend-Container-Update-Override-Etag": "m; slo_etag=e",
               "X-Backend-Container-Update-Override-Content-Type": "video/mp4;swift_bytes=5000000",
               "X-Backend-Container-Update-Override-Size": "5000000"}
    (update,) = container_updates(headers, PATH, "PUT", STAMP, _meta())
    assert update.headers["X-Etag"] == "m; slo_etag=e"
    assert update.headers["X-Content-Type"] == "video/mp4;swift_bytes=5000000"
    assert update.headers["X-Size"] == "5000000"


def test_updates_without_overrides_drop_a_clients_swift_bytes() -> None:
    (update,) = container_updates(TARGET, PATH, "PUT", STAMP, _meta("text/plain;swift_bytes=999999"))
    assert update.headers == {"X-Backend-Type": "container", "X-Timestamp": STAMP.internal, "X-Size": "420",
                              "X-Content-Type": "text/plain", "X-Etag": "m" * 32,
                              "X-Backend-Storage-Policy-Index": "0"}
    (delete,) = container_updates({**TARGET, "X-Backend-Container-Update-Override-Size": "5"}, PATH, "DELETE",
                                  STAMP, _meta())
    assert "X-Size" not in delete.headers


@pytest.mark.parametrize("name, value", [("Size", "-1"), ("Size", "ten"), ("Etag", " "), ("Content-Type", "")])
def test_bad_overrides_are_400(name: str, value: str) -> None:
    with pytest.raises(BadRequest):
        container_update_overrides({f"X-Backend-Container-Update-Override-{name}": value})


def test_split_slo_etag() -> None:
    assert split_slo_etag("abc") == ("abc", None)
    assert split_slo_etag("abc; slo_etag=def") == ("abc", "def")
    assert split_slo_etag('abc; slo_etag="def"; x=1') == ("abc; x=1", "def")


def test_listing_shows_the_large_object() -> None:
    rows = [ObjectRecord("big", STAMP.internal, 420, "video/mp4;swift_bytes=5000000", "m; slo_etag=e"),
            ObjectRecord("small", STAMP.internal, 3, "text/plain; charset=utf-8", "s")]
    listed = json.loads(render_listing(rows, "application/json", "container", "c"))
    assert listed[0] == {"name": "big", "hash": "m", "bytes": 5000000, "content_type": "video/mp4",
                         "last_modified": "2023-11-14T22:13:20.000000", "slo_etag": '"e"'}
    assert listed[1]["bytes"] == 3 and listed[1]["content_type"] == "text/plain; charset=utf-8"
    assert listed[1]["hash"] == "s" and "slo_etag" not in listed[1]
    xml = render_listing(rows, "application/xml", "container", "c").decode()
    assert "<bytes>5000000</bytes>" in xml and "<slo_etag>\"e\"</slo_etag>" in xml


def test_an_objects_lasting_etag_override_is_kept_across_posts() -> None:
    """A symlink's row ETag (its target in the parameters) is object
    sysmeta: used on its PUT and on every POST after it."""
    from storage.container_updates import post_container_updates

    lasting = "d41d8cd98f00b204e9800998ecf8427e; symlink_target=c/o; symlink_target_account=AUTH_t"
    headers = {**TARGET, "X-Object-Sysmeta-Container-Update-Override-Etag": lasting}
    (update,) = container_updates(headers, PATH, "PUT", STAMP, _meta())
    assert update.headers["X-Etag"] == lasting
    meta = ObjectMetadata(name="/AUTH_t/c/big", timestamp=STAMP, etag="m" * 32, content_length=0,
                          content_type="a/b", sys_meta={"X-Object-Sysmeta-Container-Update-Override-Etag": lasting})
    (posted,) = post_container_updates(TARGET, PATH, meta, "c/d", Timestamp.parse("1700000001.00000"))
    assert posted.headers["X-Etag"] == lasting
    assert posted.headers["X-Content-Type"] == "c/d"
