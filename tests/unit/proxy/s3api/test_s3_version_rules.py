"""S3 versioning's pure parts: version ids, copy sources, the
ListVersionsResult of a ``?versions`` listing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from proxy.s3api.errors import S3Error
from proxy.object_versioning.names import DELETE_MARKER
from proxy.s3api.listing import list_query, versions_document
from proxy.s3api.objects import copy_source
from proxy.s3api.versioning import check_version_id, version_headers

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_version_ids() -> None:
    assert check_version_id("null") == "null"
    assert check_version_id("1796400086.93039") == "1796400086.93039"
    for bad in ("", "bogus", "1.2.3", "Null"):
        with pytest.raises(S3Error) as refused:
            check_version_id(bad)
        assert refused.value.code == "InvalidArgument" and refused.value.status == 400


def test_copy_source_version() -> None:
    assert copy_source("/b/k") == ("b", "k", None)
    assert copy_source("b/dir/k%20x?versionId=null") == ("b", "dir/k x", "null")
    assert copy_source("/b/k?versionId=1796400086.93039") == ("b", "k", "1796400086.93039")
    for bad in ("/b/k?nonsense", "/b/k?versionId=null&nonsense", "/b/k?versionId=zzz", "/b"):
        with pytest.raises(S3Error) as refused:
            copy_source(bad)
        assert refused.value.code == "InvalidArgument"


def test_version_headers() -> None:
    assert version_headers({}) == {}
    assert version_headers({"X-Object-Version-Id": "1.00000"}) == {"x-amz-version-id": "1.00000"}
    assert version_headers({"X-Object-Version-Id": "1.00000"}, delete=True) == {
        "x-amz-version-id": "1.00000", "x-amz-delete-marker": "true"}


def _rows() -> list[dict[str, object]]:
    stamp = "2026-12-04T16:01:27.123450"
    return [
        {"name": "a", "version_id": "3.00000", "is_latest": True, "content_type": DELETE_MARKER, "bytes": 0,
         "hash": "d41d8cd98f00b204e9800998ecf8427e", "last_modified": stamp},
        {"name": "a", "version_id": "2.00000", "is_latest": False, "content_type": "text/plain", "bytes": 2,
         "hash": "abc; s3_etag=def-2", "last_modified": stamp},
        {"name": "b", "bytes": 5, "hash": "0123", "content_type": "text/plain", "last_modified": stamp},
    ]


def test_versions_document_markers_versions_and_null() -> None:
    q = list_query({"max-keys": "10"}, 1000)
    root = ET.fromstring(versions_document("bkt", q, _rows(), "test:tester"))
    markers = root.findall(f"{NS}DeleteMarker")
    versions = root.findall(f"{NS}Version")
    assert [(m.findtext(f"{NS}Key"), m.findtext(f"{NS}VersionId"), m.findtext(f"{NS}IsLatest")) for m in markers] \
        == [("a", "3.00000", "true")]
    assert markers[0].find(f"{NS}ETag") is None and markers[0].find(f"{NS}Size") is None
    assert [(v.findtext(f"{NS}Key"), v.findtext(f"{NS}VersionId"), v.findtext(f"{NS}IsLatest"),
             v.findtext(f"{NS}ETag")) for v in versions] == [("a", "2.00000", "false", '"def-2"'),
                                                            ("b", "null", "true", '"0123"')]
    assert root.findtext(f"{NS}IsTruncated") == "false"
    assert root.find(f"{NS}NextKeyMarker") is None


def test_versions_document_truncated_names_the_next_markers() -> None:
    q = list_query({"max-keys": "2", "marker": "0"}, 1000)
    root = ET.fromstring(versions_document("bkt", q, _rows(), "o", "1.00000"))
    assert root.findtext(f"{NS}IsTruncated") == "true"
    assert root.findtext(f"{NS}NextKeyMarker") == "a"
    assert root.findtext(f"{NS}NextVersionIdMarker") == "2.00000"
    assert root.findtext(f"{NS}KeyMarker") == "0"
    assert root.findtext(f"{NS}VersionIdMarker") == "1.00000"
    assert len(root.findall(f"{NS}Version")) + len(root.findall(f"{NS}DeleteMarker")) == 2
