"""ListObjects rules and documents, target parsing, errors (pure)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from proxy.s3api.errors import S3Error, error_document, from_swift_status
from proxy.s3api.listing import decode_token, encode_token, list_query, objects_document, s3_etag, s3_time
from proxy.s3api.target import S3Target, check_bucket_name, looks_like_s3, split_target

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_v1_query_to_swift() -> None:
    q = list_query({"prefix": "a/", "delimiter": "/", "marker": "a/b", "max-keys": "5"}, 1000)
    assert not q.v2
    assert q.swift_query() == {"format": "json", "limit": "6", "prefix": "a/", "delimiter": "/", "marker": "a/b"}
    assert list_query({"max-keys": "5000"}, 1000).max_keys == 1000


def test_v2_token_round_trip() -> None:
    token = encode_token("dir/é")
    assert decode_token(token) == "dir/é"
    q = list_query({"list-type": "2", "continuation-token": token, "start-after": "zzz"}, 1000)
    assert q.v2 and q.marker == "dir/é"
    assert list_query({"list-type": "2", "start-after": "b"}, 1000).marker == "b"
    with pytest.raises(S3Error):
        decode_token("%%%")


@pytest.mark.parametrize("query", [{"max-keys": "x"}, {"max-keys": "-1"}, {"encoding-type": "base64"}])
def test_bad_list_queries(query: dict[str, str]) -> None:
    with pytest.raises(S3Error) as bad:
        list_query(query, 1000)
    assert bad.value.code == "InvalidArgument"


ENTRIES = [
    {"name": "a b", "hash": "0cc175b9c0f1b6a831c399e269772661", "bytes": 1,
     "last_modified": "2024-01-02T03:04:05.123450", "content_type": "text/plain"},
    {"subdir": "d/"},
    {"name": "z", "hash": "abc; s3_etag=ffff-2", "bytes": 2, "last_modified": "2024-01-02T03:04:05",
     "content_type": "x"},
]


def test_objects_document_truncated_v2_url_encoded() -> None:
    q = list_query({"list-type": "2", "max-keys": "2", "delimiter": "/", "encoding-type": "url"}, 1000)
    root = ET.fromstring(objects_document("bkt", q, ENTRIES, "AUTH_test"))
    assert root.findtext(f"{NS}IsTruncated") == "true"
    assert root.findtext(f"{NS}KeyCount") == "2"
    assert decode_token(root.findtext(f"{NS}NextContinuationToken") or "") == "d/"
    assert [c.findtext(f"{NS}Key") for c in root.iter(f"{NS}Contents")] == ["a%20b"]
    assert [p.findtext(f"{NS}Prefix") for p in root.iter(f"{NS}CommonPrefixes")] == ["d/"]
    assert root.find(f"{NS}Contents/{NS}Owner") is None  # v2 shows owners only when asked


def test_objects_document_v1() -> None:
    q = list_query({}, 1000)
    root = ET.fromstring(objects_document("bkt", q, ENTRIES[:1], "AUTH_test"))
    assert root.findtext(f"{NS}IsTruncated") == "false"
    assert root.findtext(f"{NS}Contents/{NS}ETag") == '"0cc175b9c0f1b6a831c399e269772661"'
    assert root.findtext(f"{NS}Contents/{NS}LastModified") == "2024-01-02T03:04:06.000Z"
    assert root.findtext(f"{NS}Contents/{NS}Owner/{NS}ID") == "AUTH_test"
    assert root.find(f"{NS}NextMarker") is None


def test_etags_and_times() -> None:
    assert s3_etag(ENTRIES[2]) == '"ffff-2"'
    assert s3_time("2024-01-02T03:04:05") == "2024-01-02T03:04:05.000Z"
    assert s3_time("2024-12-31T23:59:59.000001") == "2025-01-01T00:00:00.000Z"


def test_looks_like_s3() -> None:
    assert looks_like_s3("AWS4-HMAC-SHA256 Credential=...", "")
    assert looks_like_s3(None, "X-Amz-Credential=a&X-Amz-Signature=b")
    assert not looks_like_s3(None, "format=json")
    assert not looks_like_s3("Bearer x", "")


def test_split_target() -> None:
    assert split_target("/", None, ()) == S3Target(None, None)
    assert split_target("/bkt", None, ()) == S3Target("bkt", None)
    assert split_target("/bkt/", None, ()) == S3Target("bkt", None)
    assert split_target("/bkt/a/%C3%A9//b", None, ()) == S3Target("bkt", "a/é//b")
    assert split_target("/k%20ey", "bkt.s3.example.com:8080", ("s3.example.com",)) == S3Target("bkt", "k ey")
    assert split_target("/", "bkt.s3.example.com", ("s3.example.com",)) == S3Target("bkt", None)
    assert split_target("/b/k", "s3.example.com", ("s3.example.com",)) == S3Target("b", "k")
    with pytest.raises(S3Error) as bad:
        split_target("/b/%FF", None, ())
    assert bad.value.code == "InvalidURI"
    with pytest.raises(S3Error):
        split_target("/b/" + "k" * 1025, None, ())


@pytest.mark.parametrize("name", ["ab", "A-bucket", "-abc", "a..b", "192.168.1.1", "a_b", "x" * 64])
def test_bad_bucket_names(name: str) -> None:
    with pytest.raises(S3Error) as bad:
        check_bucket_name(name)
    assert bad.value.code == "InvalidBucketName"


def test_error_document() -> None:
    error = from_swift_status(404, "", bucket="b", key="k")
    assert (error.code, error.status) == ("NoSuchKey", 404)
    root = ET.fromstring(error_document(error, "/b/k", "tx123"))
    assert root.tag == "Error"
    assert root.findtext("Code") == "NoSuchKey" and root.findtext("RequestId") == "tx123"
    assert root.findtext("Key") == "k" and root.find("Resource") is None
    assert from_swift_status(409, "", bucket="b", missing="NoSuchBucket").code == "BucketNotEmpty"
    assert from_swift_status(422, "").code == "BadDigest"
    assert from_swift_status(503, "").status == 503
