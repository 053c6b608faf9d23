import pytest

from martlet.errors import BadRequest, Forbidden, MethodNotAllowed, Unauthorized
from martlet.swift_path import SwiftPath
from proxy.acl import authorize, clean_acl, parse_acl, referrer_allowed
from proxy.auth import Identity

P = "AUTH_"
OWNER = Identity("test", "tester", frozenset({".admin"}), 10**10)
PLAIN = Identity("test", "tester2", frozenset(), 10**10)
OTHER = Identity("other", "bob", frozenset({".admin"}), 10**10)
RESELLER = Identity("admin", "admin", frozenset({".admin", ".reseller_admin"}), 10**10)


def test_parse_acl():
    acl = parse_acl(" other:bob, .r:*, .rlistings, .r:-bad.example.com ,team")
    assert acl.groups == {"other:bob", "team"}
    assert acl.referrers == ("*", "-bad.example.com")
    assert acl.listings
    assert parse_acl(None).is_empty


@pytest.mark.parametrize("value", [".r:", ".unknown", ".r:-"])
def test_parse_acl_rejects(value):
    with pytest.raises(BadRequest):
        parse_acl(value)


def test_write_acl_refuses_referrers():
    with pytest.raises(BadRequest):
        clean_acl(".r:*", allow_referrers=False)
    assert clean_acl(" b:c , a:b", allow_referrers=False) == "a:b,b:c"
    assert clean_acl(".referrer:*,.rlistings", allow_referrers=True) == ".r:*,.rlistings"


def test_referrer_rules():
    assert referrer_allowed(None, ("*",))
    assert referrer_allowed("http://www.example.com/x", (".example.com",))
    assert not referrer_allowed("http://evil.com/", (".example.com",))
    assert not referrer_allowed("http://bad.example.com/", ("*", "-bad.example.com"))
    assert referrer_allowed("http://good.example.com/", ("*", "-bad.example.com"))


def test_owner_and_reseller():
    authorize(OWNER, "DELETE", SwiftPath("AUTH_test", "c"), reseller_prefix=P)
    authorize(RESELLER, "POST", SwiftPath("AUTH_other", "c"), reseller_prefix=P)
    with pytest.raises(MethodNotAllowed):
        authorize(OWNER, "PUT", SwiftPath("AUTH_test"), reseller_prefix=P)


def test_no_token_is_401_and_other_account_is_403():
    with pytest.raises(Unauthorized):
        authorize(None, "GET", SwiftPath("AUTH_test", "c", "o"), reseller_prefix=P)
    with pytest.raises(Forbidden):
        authorize(OTHER, "GET", SwiftPath("AUTH_test", "c", "o"), reseller_prefix=P)
    with pytest.raises(Forbidden):  # a non-admin user owns nothing without ACLs
        authorize(PLAIN, "GET", SwiftPath("AUTH_test"), reseller_prefix=P)


def test_read_and_write_acls():
    read = parse_acl("other:bob")
    write = parse_acl("other")
    authorize(OTHER, "GET", SwiftPath("AUTH_test", "c", "o"), reseller_prefix=P, read_acl=read)
    authorize(OTHER, "GET", SwiftPath("AUTH_test", "c"), reseller_prefix=P, read_acl=read)
    authorize(OTHER, "PUT", SwiftPath("AUTH_test", "c", "o"), reseller_prefix=P, write_acl=write)
    with pytest.raises(Forbidden):  # a write ACL never covers the container itself
        authorize(OTHER, "DELETE", SwiftPath("AUTH_test", "c"), reseller_prefix=P, write_acl=write)
    with pytest.raises(Forbidden):
        authorize(OTHER, "PUT", SwiftPath("AUTH_test", "c", "o"), reseller_prefix=P, read_acl=read)


def test_public_read_and_listings():
    public = parse_acl(".r:*")
    authorize(None, "GET", SwiftPath("AUTH_test", "c", "o"), reseller_prefix=P, read_acl=public)
    with pytest.raises(Unauthorized):  # listing needs .rlistings
        authorize(None, "GET", SwiftPath("AUTH_test", "c"), reseller_prefix=P, read_acl=public)
    listed = parse_acl(".r:*,.rlistings")
    authorize(None, "GET", SwiftPath("AUTH_test", "c"), reseller_prefix=P, read_acl=listed)
    with pytest.raises(Unauthorized):
        authorize(None, "PUT", SwiftPath("AUTH_test", "c", "o"), reseller_prefix=P, read_acl=listed)
