import pytest

from martlet.errors import BadRequest
from martlet.timestamp import Timestamp


def test_normal_form_is_fixed_width_and_round_trips() -> None:
    ts = Timestamp.parse("1700000000.5")
    assert ts.normal == "1700000000.50000"
    assert len(ts.normal) == 16
    assert Timestamp.parse(ts.normal) == ts
    assert Timestamp.parse("12").normal == "0000000012.00000"


def test_string_order_matches_time_order() -> None:
    values = ["0000000001.00000", "0000000009.99999", "1000000000.00001", "1700000000.00000"]
    stamps = [Timestamp.parse(v) for v in reversed(values)]
    assert [s.normal for s in sorted(stamps)] == values


def test_offset_orders_after_same_time_and_survives_round_trip() -> None:
    base = Timestamp.parse("1700000000.00000")
    later = base.with_offset(3)
    assert base < later < Timestamp.parse("1700000000.00001")
    assert later.internal == "1700000000.00000_0000000000000003"
    assert Timestamp.parse(later.internal) == later
    assert later.internal > base.internal
    assert str(base) == base.normal


def test_float_rounding_is_exact_to_ten_microseconds() -> None:
    assert Timestamp.from_float(1700000000.123456).normal == "1700000000.12346"
    assert Timestamp.parse(1.5).normal == "0000000001.50000"


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3", "-1", "1.123456", "1e9", "1_zz", "99999999999"])
def test_bad_timestamps_are_bad_requests(bad: str) -> None:
    with pytest.raises(BadRequest):
        Timestamp.parse(bad)


def test_now_is_recent() -> None:
    import time

    assert abs(Timestamp.now().seconds - time.time()) < 60


def test_seconds_of_a_whole_second_is_exact() -> None:
    import math

    ts = Timestamp.parse("1700000000.00000")
    assert ts.seconds == 1700000000.0
    assert math.ceil(ts.seconds) == 1700000000
    assert Timestamp.parse("1700000000.50000").seconds == 1700000000.5
