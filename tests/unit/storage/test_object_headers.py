import pytest

from martlet.errors import BadRequest
from martlet.timestamp import Timestamp
from storage.object_headers import parse_delete_at, parse_if_delete_at, sys_meta_from, user_meta_from


def test_delete_at_is_an_integer_clamped_to_ten_digits() -> None:
    assert parse_delete_at(None) is None
    assert parse_delete_at("") is None
    assert parse_delete_at(" 1700000000 ") == 1700000000
    assert parse_delete_at("1" * 100) == 9999999999
    assert parse_delete_at("9" * 5000) == 9999999999
    assert parse_delete_at("-5") == 0
    for bad in ("inf", "-inf", "1e400", "nan", "1.5", "x", "\u0661"):
        with pytest.raises(BadRequest, match="Non-integer X-Delete-At"):
            parse_delete_at(bad)


def test_if_delete_at() -> None:
    assert parse_if_delete_at(None) is None
    assert parse_if_delete_at("1700000000") == Timestamp.parse(1700000000)
    with pytest.raises(BadRequest, match="Bad X-If-Delete-At header value"):
        parse_if_delete_at("bad")


def test_stored_values_are_text() -> None:
    """Bytes that are not UTF-8 (surrogate escapes from aiohttp) become
    U+FFFD: msgpack and the response writer take text only."""
    assert user_meta_from({"X-Object-Meta-Name": "caf\udcc3"}) == {"Name": "caf\ufffd"}
    assert sys_meta_from({"Content-Disposition": "\udcff"}, put=True) == {"Content-Disposition": "\ufffd"}
