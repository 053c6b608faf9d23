"""The ?versions listing merge and the parameters it sends on."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from martlet.errors import BadRequest
from proxy.object_versioning.listing import merge, show_links, versions_query
from proxy.object_versioning.names import DELETE_MARKER, version_object, version_prefix, versions_container

VC = versions_container("c")


def _link(name: str, version: str) -> dict[str, object]:
    target = version_object(name, version)
    return {"name": name, "bytes": 0, "hash": "d41d8cd98f00b204e9800998ecf8427e", "content_type": "text/plain",
            "last_modified": "x", "symlink_path": f"/v1/AUTH_a/{quote(VC)}/{quote(target)}",
            "symlink_etag": "abc", "symlink_bytes": 5}


def _version(name: str, version: str, content_type: str = "text/plain") -> dict[str, object]:
    return {"name": version_object(name, version), "bytes": 5, "hash": "abc", "content_type": content_type,
            "last_modified": "x"}


def test_links_are_shown_as_their_versions() -> None:
    rows = show_links([_link("o", "1700000000.00000"), {"name": "plain", "bytes": 1}], "c", VC, False)
    assert rows[0]["bytes"] == 5 and rows[0]["hash"] == "abc" and rows[0]["version_symlink"]
    assert rows[0]["symlink_path"] == "/v1/AUTH_a/c/o?version-id=1700000000.00000"
    assert rows[1] == {"name": "plain", "bytes": 1}


def test_merge_marks_latest_and_null_versions() -> None:
    primary = show_links([_link("a", "1700000002.00000"), {"name": "b", "bytes": 1, "hash": "h",
                                                          "content_type": "t", "last_modified": "x"}],
                         "c", VC, True)
    versions = [_version("a", "1700000002.00000"), _version("a", "1700000001.00000"),
                _version("d", "1700000003.00000", DELETE_MARKER), _version("d", "1700000001.00000")]
    rows = merge(primary, versions, "AUTH_a", VC, reverse=False, limit=100)
    got = [(r["name"], r["version_id"], r["is_latest"]) for r in rows]
    assert got == [("a", "1700000002.00000", True), ("a", "1700000001.00000", False), ("b", "null", True),
                   ("d", "1700000003.00000", True), ("d", "1700000001.00000", False)]
    assert [r["name"] for r in merge(primary, [], "AUTH_a", VC, reverse=True, limit=1)] == ["b"]


def test_merge_without_versions_container_lists_the_links() -> None:
    primary = show_links([_link("a", "1700000002.00000")], "c", VC, True)
    rows = merge(primary, None, "AUTH_a", VC, reverse=False, limit=10)
    assert rows == [{"name": "a", "is_latest": True, "version_id": "1700000002.00000", "content_type": "text/plain",
                     "bytes": 5, "hash": "abc", "last_modified": "x"}]


def test_versions_query() -> None:
    assert versions_query({"marker": "o"})["marker"] == version_prefix("o") + ":"
    assert versions_query({"marker": "o", "version_marker": "null"})["marker"] == version_prefix("o")
    assert versions_query({"marker": "o", "version_marker": "1700000000.00000"})["marker"] == \
        version_object("o", "1700000000.00000")
    assert versions_query({"prefix": "p", "limit": "3"}) == {"prefix": "\x00p", "limit": "3"}
    for bad in ({"version_marker": "1"}, {"marker": "o", "version_marker": "junk"}, {"delimiter": "1"}):
        with pytest.raises(BadRequest):
            versions_query(bad)
