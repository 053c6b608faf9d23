import json

import pytest

from martlet.errors import BadRequest
from proxy.acl import (
    AccountACL, account_acl_from_stored, check_account_acl, clean_acl, parse_acl, referrer_allowed,
    shown_account_acl,
)


def test_parse_acl():
    acl = parse_acl(" other:bob, .r:*, .rlistings, .r:-bad.example.com ,team")
    assert acl.groups == {"other:bob", "team"}
    assert acl.referrers == ("*", "-bad.example.com")
    assert acl.listings
    assert parse_acl(None).is_empty


@pytest.mark.parametrize("value", [".r:", ".unknown:x", ".r:-", ".r:.", ".r:*.", ".unknown"])
def test_parse_acl_rejects(value):
    with pytest.raises(BadRequest):
        parse_acl(value)


def test_clean_acl_as_swift():
    """Entries keep their order; referrer aliases and spacing are normalized;
    a leading ``*`` before a domain is dropped (Swift's clean_acl)."""
    assert clean_acl(" b:c , a:b,,", allow_referrers=False) == "b:c,a:b"
    assert clean_acl(".referrer : *,.rlistings", allow_referrers=True) == ".r:*,.rlistings"
    assert clean_acl(".ref:*.example.com", allow_referrers=True) == ".r:.example.com"
    assert clean_acl(".r:-*.Thief.com, .r:*", allow_referrers=True) == ".r:-.thief.com,.r:*"
    for value in (".r:*", ".rlistings"):
        with pytest.raises(BadRequest):
            clean_acl(value, allow_referrers=False)


def test_referrer_rules():
    assert referrer_allowed(None, ("*",))
    assert referrer_allowed("http://www.example.com/x", (".example.com",))
    assert not referrer_allowed("http://example.com/x", (".example.com",))  # a domain's hosts, as Swift
    assert not referrer_allowed("http://evil.com/", (".example.com",))
    assert not referrer_allowed("http://bad.example.com/", ("*", "-bad.example.com"))
    assert referrer_allowed("http://good.example.com/", ("*", "-bad.example.com"))
    assert not referrer_allowed("http://a.thief.com/", parse_acl(".r:*,.r:-*.thief.com").referrers)
    assert referrer_allowed("http://blah.example.com", parse_acl(".r:*.example.com").referrers)


def test_account_acl_is_checked_and_stored_in_swifts_form():
    stored = check_account_acl('{"read-only": ["b", "a"], "admin": ["test:tester3"]}', 8192)
    assert stored == '{"admin":["test:tester3"],"read-only":["b","a"]}'
    assert shown_account_acl(stored) == stored
    assert account_acl_from_stored(stored) == AccountACL(admin=frozenset({"test:tester3"}),
                                                         read_only=frozenset({"a", "b"}))
    assert check_account_acl("{}", 8192) == "" and check_account_acl("", 8192) == ""
    assert shown_account_acl("") is None and shown_account_acl("{}") is None


@pytest.mark.parametrize("value,error", [
    ("invalid", "Syntax error"),
    ("[]", "Syntax error"),
    ('{"admin": ["a"], "invalid_key": "x"}', 'Key "invalid_key" not recognized'),
    ('{"admin": "a"}', 'Value for key "admin" must be a list'),
    ('{"read-write": [1]}', 'Elements of "read-write" list must be strings'),
    (json.dumps({"admin": ["x" * 9000]}), "longer than 8192 bytes"),
])
def test_account_acl_rejects(value, error):
    with pytest.raises(BadRequest, match=error):
        check_account_acl(value, 8192)


def test_a_stored_account_acl_that_does_not_parse_grants_nothing():
    assert account_acl_from_stored("yuck").is_empty
    assert account_acl_from_stored('{"admin": "bob"}').is_empty
    assert account_acl_from_stored(None).is_empty
