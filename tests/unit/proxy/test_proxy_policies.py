"""The proxy's side of storage policies: a container PUT's policy headers and /info."""

from __future__ import annotations

import pytest

from martlet.errors import BadRequest
from martlet.policies import StoragePolicies, StoragePolicy, build_policies
from proxy.controllers.container import policy_headers
from proxy.info import info_document, policy_info

POLICIES = build_policies([StoragePolicy(0, ("Policy-0",)), StoragePolicy(1, ("silver", "fast"), is_default=True),
                           StoragePolicy(2, ("old",), is_deprecated=True)])


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({}, {"X-Backend-Storage-Policy-Default": "1"}),
        ({"X-Storage-Policy": ""}, {"X-Backend-Storage-Policy-Default": "1"}),
        ({"X-Storage-Policy": "policy-0"}, {"X-Backend-Storage-Policy-Index": "0"}),
        ({"X-Storage-Policy": "FAST"}, {"X-Backend-Storage-Policy-Index": "1"}),
    ],
)
def test_a_named_policy_goes_by_index_and_none_by_default(sent: dict[str, str], expected: dict[str, str]) -> None:
    assert policy_headers(POLICIES, sent) == expected


@pytest.mark.parametrize("name", ["bronze", "old"])
def test_an_unknown_or_deprecated_policy_is_400(name: str) -> None:
    with pytest.raises(BadRequest):
        policy_headers(POLICIES, {"X-Storage-Policy": name})


def test_info_lists_the_policies_as_swift_does() -> None:
    assert policy_info(POLICIES) == [
        {"name": "Policy-0", "aliases": "Policy-0"},
        {"name": "silver", "aliases": "silver, fast", "default": True},
    ]
    assert info_document(1)["swift"]["policies"] == [{"name": "Policy-0", "aliases": "Policy-0", "default": True}]
    assert info_document(1, policies=StoragePolicies())["swift"]["policies"] == policy_info(StoragePolicies())
