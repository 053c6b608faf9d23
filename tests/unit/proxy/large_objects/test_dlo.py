"""Dynamic large objects' pure parts: the manifest header, listing rows."""

from __future__ import annotations

import hashlib

import pytest

from martlet.errors import BadRequest
from proxy.large_objects.dlo import listing_segments, parse_dlo_manifest
from proxy.large_objects.manifest import slo_etag


def test_dlo_manifest_header() -> None:
    assert parse_dlo_manifest("segs/big/file/") == ("segs", "big/file/")
    assert parse_dlo_manifest("my%20segs/a%2Fb") == ("my segs", "a/b")
    assert parse_dlo_manifest("segs/") == ("segs", "")
    # A header's bytes that are not UTF-8 arrive as lone surrogates: a 400, not a 500.
    not_utf8 = b"\x80\xfc/p".decode("utf-8", "surrogateescape")
    for bad in ("nocontainer", "/prefix", "c" * 257 + "/p", not_utf8, "c/" + not_utf8):
        with pytest.raises(BadRequest):
            parse_dlo_manifest(bad)


def test_dlo_segments_from_listing_rows() -> None:
    rows = [{"name": "p/1", "bytes": 3, "hash": "AA", "content_type": "x/y", "last_modified": "t"},
            {"subdir": "p/z/"}, {"name": "p/2", "bytes": 0, "hash": "bb"}]
    segments = listing_segments("segs", rows)
    assert [(s.name, s.size, s.etag) for s in segments] == [("/segs/p/1", 3, "aa"), ("/segs/p/2", 0, "bb")]
    assert slo_etag(segments) == hashlib.md5(b"aabb").hexdigest()
