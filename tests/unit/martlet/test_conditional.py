import pytest

from martlet.conditional import (
    Conditions,
    evaluate,
    http_date,
    if_range_holds,
    last_modified_seconds,
    parse_conditions,
    parse_etag_list,
    parse_http_date,
)

ETAG = "5d41402abc4b2a76b9719d911017c592"
MODIFIED = 1_700_000_000


def cond(**headers: str) -> Conditions:
    return parse_conditions({k.replace("_", "-"): v for k, v in headers.items()})


def test_etag_lists() -> None:
    assert parse_etag_list('"a", W/"b" ,c') == ("a", "b", "c")
    assert parse_etag_list("*") == ("*",)
    assert parse_etag_list(None) is None


def test_dates() -> None:
    assert parse_http_date(http_date(MODIFIED)) == MODIFIED
    assert parse_http_date("not a date") is None
    assert last_modified_seconds(1700000000.00001) == 1700000001


@pytest.mark.parametrize(
    "headers,method,expected",
    [
        ({"If_Match": f'"{ETAG}"'}, "GET", None),
        ({"If_Match": "other"}, "GET", 412),
        ({"If_Match": "*"}, "GET", None),
        ({"If_None_Match": ETAG}, "GET", 304),
        ({"If_None_Match": ETAG}, "HEAD", 304),
        ({"If_None_Match": ETAG}, "PUT", 412),
        ({"If_None_Match": "*"}, "GET", 304),
        ({"If_None_Match": "other"}, "GET", None),
        ({"If_Modified_Since": http_date(MODIFIED)}, "GET", 304),
        ({"If_Modified_Since": http_date(MODIFIED - 1)}, "GET", None),
        ({"If_Modified_Since": http_date(MODIFIED)}, "DELETE", None),
        ({"If_Unmodified_Since": http_date(MODIFIED)}, "GET", None),
        ({"If_Unmodified_Since": http_date(MODIFIED - 1)}, "GET", 412),
        # Swift (swob) judges the dates beside the ETags, unlike RFC 9110:
        # a matching If-Match with a failed If-Unmodified-Since is a 412...
        ({"If_Match": ETAG, "If_Unmodified_Since": http_date(MODIFIED - 1)}, "GET", 412),
        # ...an unmatched If-None-Match with a met If-Modified-Since a 304...
        ({"If_None_Match": "other", "If_Modified_Since": http_date(MODIFIED)}, "GET", 304),
        # ...and a matching If-None-Match wins over a failed If-Match.
        ({"If_None_Match": ETAG, "If_Match": "other"}, "GET", 304),
        ({"If_Modified_Since": "garbage"}, "GET", None),
    ],
)
def test_evaluate(headers: dict[str, str], method: str, expected: int | None) -> None:
    assert evaluate(cond(**headers), ETAG, MODIFIED, method) == expected


def test_no_current_object() -> None:
    assert evaluate(cond(If_Match="*"), None, None, "GET") == 412
    assert evaluate(cond(If_None_Match="*"), None, None, "PUT") is None


def test_if_range_holds_only_for_the_same_representation() -> None:
    assert if_range_holds(None, ETAG, MODIFIED)  # no If-Range: the Range stands
    assert if_range_holds(f'"{ETAG}"', ETAG, MODIFIED)
    assert if_range_holds(f'"{ETAG}"', f'"{ETAG}"', MODIFIED)  # an SLO's ETag is quoted
    assert if_range_holds(ETAG, ETAG, MODIFIED)  # unquoted, as Swift clients send tags
    assert not if_range_holds(f'W/"{ETAG}"', ETAG, MODIFIED)  # weak tags never match
    assert not if_range_holds('"other"', ETAG, MODIFIED)
    assert not if_range_holds(f'"{ETAG}"', None, MODIFIED)
    assert if_range_holds(http_date(MODIFIED), ETAG, MODIFIED)
    assert not if_range_holds(http_date(MODIFIED - 1), ETAG, MODIFIED)  # exact dates only
    assert not if_range_holds(http_date(MODIFIED), ETAG, None)
