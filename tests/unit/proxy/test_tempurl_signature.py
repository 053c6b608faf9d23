"""Temp URL signatures: parsing, expiry, digests, HMACs, header rules,
dispositions (proxy.tempurl.signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from proxy.tempurl.signature import (
    HeaderRule,
    TempUrlQuery,
    allowed_digests,
    answer_disposition,
    compute_hmac,
    disposition,
    keys_of,
    matching_scope,
    parse_expires,
    signed_path,
    split_signature,
)

NOW = 1_800_000_000


def test_hmac_is_swifts_message_form() -> None:
    expected = hmac.new(b"k", b"GET\n1800000100\n/v1/AUTH_a/c/o", hashlib.sha256).hexdigest()
    assert compute_hmac("GET", 1800000100, "/v1/AUTH_a/c/o", "k", "sha256") == expected


def test_hmac_with_ip_range_puts_it_first() -> None:
    expected = hmac.new(b"k", b"ip=10.0.0.0/8\nGET\n5\n/v1/a/c/o", hashlib.sha1).hexdigest()
    assert compute_hmac("GET", 5, "/v1/a/c/o", "k", "sha1", "10.0.0.0/8") == expected


def test_signed_path_object_and_prefix() -> None:
    assert signed_path("a", "c", "d/o", None) == "/v1/a/c/d/o"
    assert signed_path("a", "c", "d/o", "d/") == "prefix:/v1/a/c/d/"
    assert signed_path("a", "c", "o", "") == "prefix:/v1/a/c/"


@pytest.mark.parametrize("value, expected", [
    (str(NOW + 10), NOW + 10),
    ("2027-01-15T08:00:00Z", NOW),  # exactly now: not yet past
    ("2020-01-01T00:00:00Z", 0),
    (str(NOW - 1), 0),
    ("tomorrow", 0),
    ("2030-01-01 00:00:00", 0),
    ("", 0),
])
def test_parse_expires(value: str, expected: int) -> None:
    assert parse_expires(value, NOW) == expected


def test_parse_expires_iso8601_future() -> None:
    assert parse_expires("2030-01-01T00:00:00Z", NOW) == 1893456000


@pytest.mark.parametrize("digest, length", [("sha1", 40), ("sha256", 64), ("sha512", 128)])
def test_hex_signature_length_names_digest(digest: str, length: int) -> None:
    assert split_signature("a" * length) == (digest, "a" * length)


@pytest.mark.parametrize("sig", ["a" * 41, "z" * 40, "", "a" * 32, "abc"])
def test_bad_hex_signatures(sig: str) -> None:
    with pytest.raises(ValueError):
        split_signature(sig)


def test_base64_signatures_standard_and_urlsafe_with_or_without_padding() -> None:
    raw = hashlib.sha512(b"x").digest() + b"\xfb\xff"  # has + and / in standard base64
    hexed = raw.hex()
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    assert split_signature("sha512:" + std) == ("sha512", hexed)
    assert split_signature("sha512:" + url) == ("sha512", hexed)
    assert split_signature("sha512:" + url.rstrip("=")) == ("sha512", hexed)


@pytest.mark.parametrize("sig", ["sha512:***", "sha512:abcde", "sha512:ab+_"])
def test_bad_base64_signatures(sig: str) -> None:
    with pytest.raises(ValueError):
        split_signature(sig)


def test_keys_of_metadata() -> None:
    assert keys_of({"temp-url-key": "a", "Temp-URL-Key-2": "b", "other": "c"}) == ["a", "b"]
    assert keys_of({}) == []


def test_matching_scope_finds_the_key_that_signed() -> None:
    path = "/v1/a/c/o"
    sig = compute_hmac("GET", NOW, path, "ck", "sha256")
    keys = [("ak", "account"), ("ck", "container")]
    assert matching_scope(sig, "GET", NOW, path, "sha256", keys) == "container"
    assert matching_scope(sig, "PUT", NOW, path, "sha256", keys) is None
    assert matching_scope(sig, "GET", NOW + 1, path, "sha256", keys) is None
    assert matching_scope(sig.upper(), "GET", NOW, path, "sha256", keys) is None
    assert matching_scope(sig, "GET", NOW, "/v1/a/c/other", "sha256", keys) is None


@pytest.mark.parametrize("signed_for, ok", [("GET", True), ("PUT", True), ("POST", True), ("HEAD", True),
                                            ("DELETE", False)])
def test_head_takes_get_put_post_head_signatures(signed_for: str, ok: bool) -> None:
    sig = compute_hmac(signed_for, NOW, "/v1/a/c/o", "k", "sha1")
    assert (matching_scope(sig, "HEAD", NOW, "/v1/a/c/o", "sha1", [("k", "account")]) is not None) is ok


def test_head_signature_does_not_allow_get() -> None:
    sig = compute_hmac("HEAD", NOW, "/v1/a/c/o", "k", "sha1")
    assert matching_scope(sig, "GET", NOW, "/v1/a/c/o", "sha1", [("k", "account")]) is None


def test_ip_range_is_part_of_the_signature() -> None:
    sig = compute_hmac("GET", NOW, "/v1/a/c/o", "k", "sha256", "127.0.0.1")
    keys = [("k", "account")]
    assert matching_scope(sig, "GET", NOW, "/v1/a/c/o", "sha256", keys, "127.0.0.1") == "account"
    assert matching_scope(sig, "GET", NOW, "/v1/a/c/o", "sha256", keys, "127.0.0.0/8") is None
    assert matching_scope(sig, "GET", NOW, "/v1/a/c/o", "sha256", keys) is None


def test_query_parsing_and_kept_query() -> None:
    tq = TempUrlQuery.of({"temp_url_sig": "s", "temp_url_expires": "1", "inline": "", "filename": "f.txt",
                          "multipart-manifest": "get"})
    assert tq.present and tq.inline and tq.filename == "f.txt" and tq.prefix is None
    assert tq.kept_query() == {"temp_url_sig": "s", "temp_url_expires": "1", "filename": "f.txt", "inline": ""}
    assert not TempUrlQuery.of({"format": "json"}).present
    assert TempUrlQuery.of({"temp_url_expires": "1"}).present


def test_header_rules_with_prefixes_and_exceptions() -> None:
    rule = HeaderRule.of(("x-object-meta-*",), ("x-object-meta-public-*",))
    assert rule.drops("X-Object-Meta-Secret")
    assert not rule.drops("X-Object-Meta-Public-Thing")
    assert not rule.drops("Content-Type")
    incoming = HeaderRule.of(("x-timestamp x-open-expired",), ())
    assert incoming.drops("X-Timestamp") and incoming.drops("x-open-expired") and not incoming.drops("x-ts")


def test_dispositions() -> None:
    assert disposition("attachment", 'a "b" ü.txt') == (
        "attachment; filename=\"a %22b%22 %C3%BC.txt\"; filename*=UTF-8''a%20%22b%22%20%C3%BC.txt")
    plain = TempUrlQuery("s", "1")
    assert answer_disposition(plain, None, "dir/file.bin") == (
        "attachment; filename=\"file.bin\"; filename*=UTF-8''file.bin")
    assert answer_disposition(plain, "inline; x", "o") == "inline; x"
    assert answer_disposition(TempUrlQuery("s", "1", inline=True), "x", "o") == "inline"
    assert answer_disposition(TempUrlQuery("s", "1", inline=True, filename="n"), None, "o").startswith("inline; ")
    assert answer_disposition(TempUrlQuery("s", "1", filename="n"), "x", "o").startswith("attachment; ")
    assert "\n" not in answer_disposition(TempUrlQuery("s", "1", filename="a\nb"), None, "o")


def test_allowed_digests() -> None:
    assert allowed_digests(()) == {"sha1", "sha256", "sha512"}
    assert allowed_digests(("sha256 sha512",)) == {"sha256", "sha512"}
    assert allowed_digests(("SHA512", "md5")) == {"sha512"}
