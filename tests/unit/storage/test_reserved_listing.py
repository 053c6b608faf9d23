"""Reserved names in a real container database: hidden from listings
unless the proxy allows them, whatever the markers, prefix or direction."""

from __future__ import annotations

from pathlib import Path

import pytest

from martlet.errors import PreconditionFailed
from storage.db import ContainerBroker, ObjectUpdate
from storage.listing import parse_listing_params

TS = "1700000000.00000"
NAMES = ["\x00versions\x00c", "\x00o\x001", "a", "b/c", "\x01odd"]


@pytest.fixture
def broker(tmp_path: Path) -> ContainerBroker:
    made = ContainerBroker(tmp_path / "c.db", fsync=False)
    made.create(tmp_path / "tmp", "a", "c", "0000000001.00000", {}, None)
    made.merge_objects(ObjectUpdate(n, TS, 1, "text/plain", "d41d8cd98f00b204e9800998ecf8427e") for n in NAMES)
    return made


def listed(broker: ContainerBroker, query: dict[str, str], allow: bool = False) -> list[str]:
    return [entry.name for entry in broker.list_page(parse_listing_params(query, allow))]


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["\x01odd", "a", "b/c"]),
    ({"reverse": "on"}, ["b/c", "a", "\x01odd"]),
    ({"end_marker": "b"}, ["\x01odd", "a"]),
    ({"marker": "a", "reverse": "on"}, ["\x01odd"]),
    ({"delimiter": "/"}, ["\x01odd", "a", "b/"]),
])
def test_hidden_without_the_header(broker: ContainerBroker, query: dict[str, str], expected: list[str]) -> None:
    assert listed(broker, query) == expected


def test_listed_with_the_header(broker: ContainerBroker) -> None:
    assert listed(broker, {}, allow=True) == sorted(NAMES)
    assert listed(broker, {"prefix": "\x00o"}, allow=True) == ["\x00o\x001"]


def test_a_client_prefix_may_not_hold_nul() -> None:
    with pytest.raises(PreconditionFailed):
        parse_listing_params({"prefix": "\x00o"})
