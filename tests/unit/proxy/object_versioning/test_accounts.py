"""An account listing with its versions containers merged in."""

from __future__ import annotations

from proxy.object_versioning.accounts import merge_accounts, versions_query
from proxy.object_versioning.names import versions_container


def test_versions_bytes_are_added_and_orphans_listed() -> None:
    rows = [{"name": "a", "count": 1, "bytes": 5}, {"name": "b", "count": 0, "bytes": 0}]
    hidden = [{"name": versions_container("a"), "count": 3, "bytes": 10},
              {"name": versions_container("gone"), "count": 2, "bytes": 7}]
    merged = merge_accounts(rows, hidden, reverse=False, limit=10)
    assert merged == [{"name": "a", "count": 1, "bytes": 15}, {"name": "b", "count": 0, "bytes": 0},
                      {"name": "gone", "count": 0, "bytes": 7}]
    assert [r["name"] for r in merge_accounts(rows, hidden, reverse=True, limit=2)] == ["gone", "b"]


def test_versions_query_moves_names_to_the_reserved_ones() -> None:
    assert versions_query({}) == {"prefix": "\x00versions"}
    assert versions_query({"prefix": "p", "marker": "m", "limit": "3"}) == {
        "prefix": versions_container("p"), "marker": versions_container("m"), "limit": "3"}
