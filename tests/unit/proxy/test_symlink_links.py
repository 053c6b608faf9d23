"""The pure part of symlinks (``proxy.symlink.links``): link requests,
link headers and the row ETag a listing reads back."""

from __future__ import annotations

import json

import pytest

from martlet.errors import BadRequest, Conflict, PreconditionFailed
from martlet.swift_path import SwiftPath
from proxy.symlink.links import (
    EMPTY_MD5, OVERRIDE_ETAG_SYSMETA, Link, check_etag, client_headers, link_headers, link_of, loop_reason,
    parse_link_request, validated_by,
)
from storage.listing import ObjectRecord, render_listing

LINK = SwiftPath("AUTH_a", "links", "l")


def test_a_plain_put_asks_for_no_link() -> None:
    assert parse_link_request({"Content-Type": "text/plain"}, LINK) is None


def test_target_is_decoded_and_shown_normalized() -> None:
    link = parse_link_request({"X-Symlink-Target": "c/dealde%2Fl04 011e%204c8df/flash.png"}, LINK)
    assert link == Link("AUTH_a", "c", "dealde/l04 011e 4c8df/flash.png", own_account=False)
    assert link.target == "c/dealde/l04%20011e%204c8df/flash.png"
    assert link.location == "/v1/AUTH_a/c/dealde/l04%20011e%204c8df/flash.png"


@pytest.mark.parametrize("value", ["just-an-object", "/obj", "c/", ""])
def test_target_must_be_container_slash_object(value: str) -> None:
    with pytest.raises(PreconditionFailed, match="must be of the form"):
        parse_link_request({"X-Symlink-Target": value}, LINK)


def test_a_link_cannot_target_itself() -> None:
    with pytest.raises(BadRequest, match="Symlink cannot target itself"):
        parse_link_request({"X-Symlink-Target": "links/l"}, LINK)
    with pytest.raises(BadRequest, match="itself"):
        parse_link_request({"X-Symlink-Target": "links/l", "X-Symlink-Target-Account": "AUTH_a"}, LINK)


def test_target_account_and_etag() -> None:
    link = parse_link_request({"X-Symlink-Target": "c/o", "X-Symlink-Target-Account": "AUTH_b",
                               "X-Symlink-Target-Etag": '"abc"'}, LINK)
    assert link == Link("AUTH_b", "c", "o", "abc", None, True)
    with pytest.raises(PreconditionFailed, match="slashes"):
        parse_link_request({"X-Symlink-Target": "c/o", "X-Symlink-Target-Account": "a%2Fb"}, LINK)
    with pytest.raises(BadRequest, match="X-Symlink-Target-Etag"):
        parse_link_request({"X-Symlink-Target": "c/o", "X-Symlink-Target-Etag": 'a"b'}, LINK)


def test_link_headers_round_trip() -> None:
    link = Link("AUTH_b", "c", "o n", "abc", 12, True)
    headers = link_headers(link, "application/x", slo_etag="def")
    assert headers["Content-Type"] == "application/x"
    assert link_of(headers, "AUTH_a") == link
    assert headers[OVERRIDE_ETAG_SYSMETA] == (
        f"{EMPTY_MD5}; symlink_target=c/o%20n; symlink_target_account=AUTH_b; symlink_target_etag=abc; "
        "symlink_target_bytes=12; slo_etag=def")
    assert client_headers(link) == {"X-Symlink-Target": "c/o%20n", "X-Symlink-Target-Account": "AUTH_b",
                                    "X-Symlink-Target-Etag": "abc", "X-Symlink-Target-Bytes": "12"}


def test_a_link_without_account_is_in_its_readers_account() -> None:
    headers = link_headers(Link("AUTH_a", "c", "o", own_account=False))
    assert "X-Object-Sysmeta-Symlink-Target-Account" not in headers
    assert link_of(headers, "AUTH_z") == Link("AUTH_z", "c", "o", own_account=False)
    assert link_of({"ETag": EMPTY_MD5}, "AUTH_z") is None


def test_static_checks() -> None:
    assert validated_by({"ETag": '"abc"', "Content-Length": "3"}) == ("abc", 3)
    slo = {"ETag": "m", "Content-Length": "300", "X-Object-Sysmeta-Slo-Size": "4000"}
    assert validated_by(slo) == ("m", 4000)
    other_link = link_headers(Link("AUTH_a", "c", "o", "t", 9))
    assert validated_by({**other_link, "ETag": EMPTY_MD5}) == ("t", 9)
    check_etag("abc", {"ETag": "abc"}, "/v1/a/c/o")
    with pytest.raises(Conflict) as caught:
        check_etag("not-it", {"ETag": "abc"}, "/v1/a/c/o")
    assert caught.value.reason == "Object Etag 'abc' does not match X-Symlink-Target-Etag header 'not-it'"
    assert caught.value.headers["Content-Location"] == "/v1/a/c/o"
    assert loop_reason(2) == "Too many levels of symbolic links, maximum allowed is 2"


def test_listing_shows_the_target() -> None:
    dynamic = link_headers(Link("AUTH_a", "c", "o"))[OVERRIDE_ETAG_SYSMETA]
    static = link_headers(Link("AUTH_a", "c", "o", "abc", 5), slo_etag="s")[OVERRIDE_ETAG_SYSMETA]
    rows = [ObjectRecord("d", "1767225600.00000", 0, "application/symlink", dynamic),
            ObjectRecord("s", "1767225600.00000", 0, "text/plain", static)]

    listed = json.loads(render_listing(rows, "application/json", "container", "links"))
    assert listed[0]["hash"] == EMPTY_MD5 and listed[0]["symlink_path"] == "/v1/AUTH_a/c/o"
    assert "symlink_etag" not in listed[0]
    assert listed[1]["symlink_etag"] == "abc" and listed[1]["symlink_bytes"] == 5
    assert listed[1]["slo_etag"] == '"s"'
