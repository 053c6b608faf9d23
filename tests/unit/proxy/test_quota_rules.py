"""Quota headers and limits (proxy.quotas' pure rules)."""

from __future__ import annotations

import pytest

from martlet.errors import BadRequest
from proxy.quotas import (
    Usage, account_limits, account_quota_headers, account_quota_updates, bytes_left, check_container_quota_headers,
    exceeds, parse_limit,
)
from proxy.state import AccountInfo

POLICIES = {"Policy-0": 0, "gold": 1}


def test_limits() -> None:
    assert parse_limit("10") == 10 and parse_limit("0") == 0
    for value in (None, "", "-1", "1.5", "ten", "\u0661"):
        assert parse_limit(value) is None


def test_container_quota_headers() -> None:
    check_container_quota_headers({"X-Container-Meta-Quota-Bytes": "10", "X-Container-Meta-Quota-Count": ""})
    for header in ("X-Container-Meta-Quota-Bytes", "X-Container-Meta-Quota-Count"):
        for value in ("-1", "abc", "1e3"):
            with pytest.raises(BadRequest):
                check_container_quota_headers({header: value})


def test_exceeds() -> None:
    usage = Usage(objects=3, bytes=90)
    assert not exceeds(usage, 100, None, 10)
    assert exceeds(usage, 100, None, 11)
    assert not exceeds(usage, 100, None, None)  # a chunked body is bounded as it streams
    assert exceeds(usage, None, 3, 0) and not exceeds(usage, None, 4, 0)
    assert bytes_left(usage, 100) == 10 and bytes_left(usage, 50) == 0 and bytes_left(usage, None) is None
    assert bytes_left(usage, None, 150, 95) == 5 and bytes_left(usage) is None


def test_account_quota_updates() -> None:
    assert account_quota_updates({"X-Account-Meta-Color": "x"}, POLICIES) == {}
    assert account_quota_updates({"X-Account-Quota-Bytes": "5", "X-Account-Quota-Count": ""}, POLICIES) == {
        "X-Account-Sysmeta-Quota-Bytes": "5", "X-Account-Sysmeta-Quota-Count": ""}
    # the old form, and removal (which wins over a value)
    assert account_quota_updates({"X-Account-Meta-Quota-Bytes": "7"}, POLICIES) == {
        "X-Account-Sysmeta-Quota-Bytes": "7"}
    assert account_quota_updates({"X-Account-Quota-Bytes": "5", "X-Remove-Account-Quota-Bytes": "t"},
                                 POLICIES) == {"X-Account-Sysmeta-Quota-Bytes": ""}
    assert account_quota_updates({"X-Remove-Account-Meta-Quota-Bytes": "t"}, POLICIES) == {
        "X-Account-Sysmeta-Quota-Bytes": ""}
    # per policy, by any case of its name; an unknown policy is no quota
    assert account_quota_updates({"X-Account-Quota-Count-Policy-GOLD": "3",
                                  "X-Remove-Account-Quota-Bytes-Policy-policy-0": "t",
                                  "X-Account-Quota-Bytes-Policy-silver": "1"}, POLICIES) == {
        "X-Account-Sysmeta-Quota-Count-Policy-1": "3", "X-Account-Sysmeta-Quota-Bytes-Policy-0": ""}
    for bad in ({"X-Account-Quota-Bytes": "-1"}, {"X-Account-Quota-Count-Policy-gold": "x"}):
        with pytest.raises(BadRequest):
            account_quota_updates(bad, POLICIES)


def test_account_quotas_shown_and_read() -> None:
    info = AccountInfo(meta={"quota-bytes": "9"}, sysmeta={"quota-count": "4", "quota-bytes-policy-1": "8"})
    assert account_quota_headers(info, POLICIES) == {"X-Account-Quota-Count": "4",
                                                     "X-Account-Quota-Bytes-Policy-gold": "8"}
    assert account_limits(info) == (9, 4)  # the old user-metadata form counts while the new one is unset
    assert account_limits(AccountInfo(meta={"quota-bytes": "9"}, sysmeta={"quota-bytes": "2"})) == (2, None)
