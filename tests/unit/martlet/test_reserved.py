"""Reserved names: the NUL-joined namespace only the proxy's features use."""

from __future__ import annotations

import pytest

from martlet.reserved import (
    RESERVED_END, allows_reserved, get_reserved_name, is_reserved, split_reserved_name,
)


def test_round_trip() -> None:
    name = get_reserved_name("versions", "photos")
    assert name == "\x00versions\x00photos"
    assert split_reserved_name(name) == ["versions", "photos"]
    assert is_reserved(name) and not is_reserved("photos") and not is_reserved("")


def test_parts_may_not_hold_nul_and_client_names_do_not_split() -> None:
    with pytest.raises(ValueError):
        get_reserved_name("a\x00b")
    with pytest.raises(ValueError):
        get_reserved_name()
    with pytest.raises(ValueError):
        split_reserved_name("plain")


def test_every_reserved_name_sorts_below_every_client_name() -> None:
    for client in ("\x01", " ", "a", "\U0010ffff"):
        assert get_reserved_name("\U0010ffff" * 3) < RESERVED_END <= client


def test_only_a_true_header_allows() -> None:
    assert allows_reserved({"X-Backend-Allow-Reserved-Names": " True "})
    assert not allows_reserved({"X-Backend-Allow-Reserved-Names": "yes"})
    assert not allows_reserved({})
