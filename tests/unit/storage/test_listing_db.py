"""Listing logic against real container and account databases in tmp_path."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from martlet.errors import NotAcceptable, PreconditionFailed
from storage.db import AccountBroker, ContainerBroker, ContainerUpdate, ObjectUpdate
from storage.db.container import object_range_sql
from storage.listing import (
    LISTING_LIMIT,
    ListingParams,
    ObjectRecord,
    RowQuery,
    Subdir,
    build_listing,
    increment,
    last_modified,
    listing_content_type,
    parse_listing_params,
    render_listing,
)

TS = "1700000000.00000"


def make_container(tmp_path: Path, names: list[str], name: str = "c") -> ContainerBroker:
    broker = ContainerBroker(tmp_path / f"{name}.db", fsync=False)
    broker.create(tmp_path / "tmp", "a", name, "0000000001.00000", {}, None)
    broker.merge_objects(
        ObjectUpdate(n, TS, len(n), "text/plain", "d41d8cd98f00b204e9800998ecf8427e") for n in names
    )
    return broker


def names_of(broker: ContainerBroker, **kwargs: object) -> list[str]:
    entries = build_listing(broker.list_objects, ListingParams(**kwargs))  # type: ignore[arg-type]
    return [e.name if isinstance(e, ObjectRecord) else f"<{e.name}>" for e in entries]


TREE = ["a", "a/", "a/b", "a/b/c", "a/d", "a0", "b", "b/x", "b/y/z", "c", "c/"]


@pytest.fixture
def tree(tmp_path: Path) -> ContainerBroker:
    return make_container(tmp_path, TREE)


def test_plain_listing_is_sorted(tree: ContainerBroker) -> None:
    assert names_of(tree) == sorted(TREE)


def test_prefix(tree: ContainerBroker) -> None:
    assert names_of(tree, prefix="a/") == ["a/", "a/b", "a/b/c", "a/d"]
    assert names_of(tree, prefix="zz") == []


def test_delimiter_folds_subdirs(tree: ContainerBroker) -> None:
    assert names_of(tree, delimiter="/") == ["a", "<a/>", "a0", "b", "<b/>", "c", "<c/>"]
    assert names_of(tree, delimiter="/", prefix="a/") == ["a/", "a/b", "<a/b/>", "a/d"]
    assert names_of(tree, delimiter="/", prefix="b/") == ["b/x", "<b/y/>"]


def test_delimiter_does_not_skip_name_just_past_subdir(tmp_path: Path) -> None:
    # "a0" is the first name after every "a/..." name; skipping the subdir
    # must not skip it too.
    broker = make_container(tmp_path, ["a/1", "a/2", "a0", "a1"])
    assert names_of(broker, delimiter="/") == ["<a/>", "a0", "a1"]
    assert names_of(broker, delimiter="/", reverse=True) == ["a1", "a0", "<a/>"]


def test_multichar_delimiter(tmp_path: Path) -> None:
    broker = make_container(tmp_path, ["xab1", "xab2", "xac", "y"])
    assert names_of(broker, delimiter="ab") == ["<xab>", "xac", "y"]


def test_markers(tree: ContainerBroker) -> None:
    assert names_of(tree, marker="a0") == ["b", "b/x", "b/y/z", "c", "c/"]
    assert names_of(tree, end_marker="a0") == ["a", "a/", "a/b", "a/b/c", "a/d"]
    assert names_of(tree, marker="a/d", end_marker="b/x") == ["a0", "b"]
    # A subdir given back as marker (the next page) is not repeated.
    assert names_of(tree, delimiter="/", marker="a/") == ["a0", "b", "<b/>", "c", "<c/>"]


def test_reverse(tree: ContainerBroker) -> None:
    assert names_of(tree, reverse=True) == sorted(TREE, reverse=True)
    assert names_of(tree, reverse=True, delimiter="/") == [
        "<c/>", "c", "<b/>", "b", "a0", "<a/>", "a",
    ]
    # In reverse, marker bounds from above and end_marker from below.
    assert names_of(tree, reverse=True, marker="b", end_marker="a/b/c") == ["a0", "a/d"]
    assert names_of(tree, reverse=True, prefix="a/", limit=2) == ["a/d", "a/b/c"]


def test_limit_and_paging_with_delimiter(tree: ContainerBroker) -> None:
    seen: list[str] = []
    marker = ""
    while True:
        page = build_listing(tree.list_objects, ListingParams(delimiter="/", marker=marker, limit=2))
        if not page:
            break
        assert len(page) <= 2
        seen.extend(e.name for e in page)
        marker = page[-1].name
    assert seen == ["a", "a/", "a0", "b", "b/", "c", "c/"]


def test_path_lists_direct_children_only(tree: ContainerBroker) -> None:
    assert names_of(tree, path="a") == ["a/b", "a/d"]
    assert names_of(tree, path="a/") == ["a/b", "a/d"]
    assert names_of(tree, path="b") == ["b/x"]
    # "a/" and "c/" are folder marker objects at the top level: direct children.
    assert names_of(tree, path="") == ["a", "a/", "a0", "b", "c", "c/"]


def test_deleted_rows_are_not_listed(tmp_path: Path) -> None:
    broker = make_container(tmp_path, ["x", "y", "z"])
    broker.merge_objects([ObjectUpdate("y", "1700000001.00000", deleted=True)])
    assert names_of(broker) == ["x", "z"]


NON_ASCII = ["zebra", "Zebra", "éclair", "e\u0301clair", "日本", "\U0001f600", "\uffff", "a\u00e9", "ab"]


def test_utf8_byte_order_with_non_ascii(tmp_path: Path) -> None:
    broker = make_container(tmp_path, NON_ASCII)
    expected = sorted(NON_ASCII, key=lambda n: n.encode("utf-8"))
    assert names_of(broker) == expected
    assert names_of(broker, reverse=True) == expected[::-1]
    assert names_of(broker, marker="\uffff") == ["\U0001f600"]
    assert names_of(broker, prefix="\u00e9") == ["éclair"]


name_chars = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\x00", max_codepoint=0x10FFFF
)
names_st = st.lists(st.text(st.sampled_from("ab/é\U0001f600") | name_chars, min_size=1, max_size=6),
                    min_size=1, max_size=25, unique=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=names_st,
    prefix=st.sampled_from(["", "a", "a/", "é"]),
    delimiter=st.sampled_from(["", "/", "b"]),
    limit=st.integers(1, 30),
    reverse=st.booleans(),
)
def test_listing_matches_a_naive_model(
    tmp_path_factory: pytest.TempPathFactory,
    names: list[str],
    prefix: str,
    delimiter: str,
    limit: int,
    reverse: bool,
) -> None:
    broker = make_container(tmp_path_factory.mktemp("h"), names)
    model: list[str] = []
    for name in sorted(names, key=lambda n: n.encode("utf-8"), reverse=reverse):
        if not name.startswith(prefix):
            continue
        cut = name.find(delimiter, len(prefix)) if delimiter else -1
        entry = f"<{name[:cut + len(delimiter)]}>" if cut >= 0 else name
        if entry not in model:
            model.append(entry)
    got = names_of(broker, prefix=prefix, delimiter=delimiter, limit=limit, reverse=reverse)
    assert got == model[:limit]


def test_increment_bounds() -> None:
    assert increment("a/") == "a0"
    assert increment("a\U0010ffff") == "b"
    assert increment("\U0010ffff") is None
    assert increment("\ud7ff") == "\ue000"


def test_listing_query_uses_the_index_not_a_scan(tmp_path: Path) -> None:
    broker = make_container(tmp_path, [f"o{i:05d}" for i in range(200)])
    queries = [
        RowQuery("", False, None, False, 10_000),
        RowQuery("o00100", False, None, False, 10_000),
        RowQuery("o001", True, "o002", True, 10_000),
    ]
    conn = sqlite3.connect(broker.path)
    try:
        for query in queries:
            sql, args = object_range_sql(query)
            plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
            assert "USING INDEX ix_object_deleted_name" in plan, plan
            assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan
    finally:
        conn.close()


def test_parse_params_limits() -> None:
    assert parse_listing_params({}).limit == LISTING_LIMIT
    assert parse_listing_params({"limit": "5"}).limit == 5
    assert parse_listing_params({"limit": "-1"}).limit == LISTING_LIMIT  # ignored, as Swift
    assert parse_listing_params({"reverse": "on"}).reverse
    with pytest.raises(PreconditionFailed, match="Maximum limit is 10000"):
        parse_listing_params({"limit": "10001"})
    with pytest.raises(PreconditionFailed):
        parse_listing_params({"prefix": "x" * 1025})


def test_content_type_negotiation() -> None:
    assert listing_content_type(None, None) == "text/plain"
    assert listing_content_type("json", "text/plain") == "application/json"
    assert listing_content_type("xml", None) == "application/xml"
    assert listing_content_type("bogus", None) == "text/plain"
    assert listing_content_type(None, "application/json") == "application/json"
    assert listing_content_type(None, "text/xml") == "text/xml"
    assert listing_content_type(None, "*/*") == "text/plain"
    assert listing_content_type(None, "application/*;q=0.9, text/plain;q=0.1") == "application/json"
    with pytest.raises(NotAcceptable):
        listing_content_type(None, "image/png")


def test_last_modified_is_iso_with_microseconds() -> None:
    assert last_modified("1700000000.12345") == "2023-11-14T22:13:20.123450"
    assert last_modified("0000000001.00000") == "1970-01-01T00:00:01.000000"


def test_render_container_formats(tmp_path: Path) -> None:
    broker = make_container(tmp_path, ["d/x", "é<&>"])
    entries = build_listing(broker.list_objects, ListingParams(delimiter="/"))
    as_json = json.loads(render_listing(entries, "application/json", "container", "c"))
    assert as_json == [
        {"subdir": "d/"},
        {
            "name": "é<&>",
            "hash": "d41d8cd98f00b204e9800998ecf8427e",
            "bytes": len("é<&>"),
            "content_type": "text/plain",
            "last_modified": "2023-11-14T22:13:20.000000",
        },
    ]
    root = ElementTree.fromstring(render_listing(entries, "application/xml", "container", "c&"))
    assert root.tag == "container" and root.get("name") == "c&"
    assert root[0].tag == "subdir" and root[0].get("name") == "d/" and root[0].findtext("name") == "d/"
    assert root[1].findtext("name") == "é<&>" and root[1].findtext("bytes") == str(len("é<&>"))
    assert render_listing(entries, "text/plain", "container", "c") == "d/\né<&>\n".encode()
    assert render_listing([], "text/plain", "container", "c") == b""


def test_render_account_listing(tmp_path: Path) -> None:
    broker = AccountBroker(tmp_path / "a.db", fsync=False)
    broker.create(tmp_path / "tmp", "AUTH_a", "0000000001.00000", {})
    broker.merge_containers(
        [
            ContainerUpdate("c1", "1700000000.00000", "0000000000.00000", 2, 10, "1"),
            ContainerUpdate("c2/x", "1700000001.00000", "0000000000.00000", 0, 0, "1"),
        ]
    )
    entries = build_listing(broker.list_containers, ListingParams(delimiter="/"))
    assert entries[1] == Subdir("c2/")
    as_json = json.loads(render_listing(entries, "application/json", "account", "AUTH_a"))
    assert as_json[0] == {
        "name": "c1", "count": 2, "bytes": 10, "last_modified": "2023-11-14T22:13:20.000000",
    }
    root = ElementTree.fromstring(render_listing(entries, "application/xml", "account", "AUTH_a"))
    assert root.tag == "account" and root[0].findtext("count") == "2"
