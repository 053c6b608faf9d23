"""proxy.authorization: tempauth's decision, step by step."""

import pytest

from martlet.errors import Forbidden, MethodNotAllowed, Unauthorized
from martlet.swift_path import SwiftPath
from proxy.acl import AccountACL, parse_acl
from proxy.auth import Identity, Resellers
from proxy.authorization import ALLOWED, OWNER, acl_names, decide, needs_account_acl, owner_view, owns

R = Resellers(("AUTH_", "SERVICE_"), (("SERVICE_", "service"),))
OWNER_USER = Identity("test", "tester", frozenset({".admin"}), 10**10)
PLAIN = Identity("test", "tester3", frozenset(), 10**10)
OTHER = Identity("other", "bob", frozenset({".admin"}), 10**10)
RESELLER = Identity("admin", "admin", frozenset({".admin", ".reseller_admin"}), 10**10)
SERVICE = Identity("test5", "tester5", frozenset({"service"}), 10**10)


def with_service(identity: Identity, service: Identity = SERVICE) -> Identity:
    return Identity(identity.account, identity.user, identity.groups, identity.expires, service)


def test_owner_and_reseller():
    assert decide(OWNER_USER, "DELETE", SwiftPath("AUTH_test", "c"), R) == OWNER
    assert decide(RESELLER, "POST", SwiftPath("AUTH_other", "c"), R) == OWNER
    with pytest.raises(MethodNotAllowed):
        decide(OWNER_USER, "PUT", SwiftPath("AUTH_test"), R)
    with pytest.raises(MethodNotAllowed):
        decide(RESELLER, "DELETE", SwiftPath("AUTH_test"), R)


def test_a_reseller_admin_owns_only_accounts_under_the_prefixes():
    for account in ("OTHER_test", "AUTH_", "AUTH_.misc", "test"):
        with pytest.raises(Forbidden):
            decide(RESELLER, "GET", SwiftPath(account), R)
    with pytest.raises(Forbidden):  # nor does an ACL open them
        decide(PLAIN, "GET", SwiftPath("OTHER_test", "c"), R, read_acl=parse_acl("*"))


def test_no_token_is_401_and_other_account_is_403():
    with pytest.raises(Unauthorized):
        decide(None, "GET", SwiftPath("AUTH_test", "c", "o"), R)
    with pytest.raises(Forbidden):
        decide(OTHER, "GET", SwiftPath("AUTH_test", "c", "o"), R)
    with pytest.raises(Forbidden):  # a non-admin user owns nothing without ACLs
        decide(PLAIN, "GET", SwiftPath("AUTH_test"), R)


def test_read_and_write_acls():
    read = parse_acl("other:bob")
    write = parse_acl("other")
    assert decide(OTHER, "GET", SwiftPath("AUTH_test", "c", "o"), R, read_acl=read) == ALLOWED
    assert decide(OTHER, "GET", SwiftPath("AUTH_test", "c"), R, read_acl=read) == ALLOWED
    assert decide(OTHER, "PUT", SwiftPath("AUTH_test", "c", "o"), R, write_acl=write) == ALLOWED
    assert decide(OTHER, "PUT", SwiftPath("AUTH_test", "c", "o"), R, write_acl=parse_acl("AUTH_other:bob"))
    with pytest.raises(Forbidden):  # a write ACL never covers the container itself
        decide(OTHER, "DELETE", SwiftPath("AUTH_test", "c"), R, write_acl=write)
    with pytest.raises(Forbidden):
        decide(OTHER, "PUT", SwiftPath("AUTH_test", "c", "o"), R, read_acl=read)


def test_public_read_and_listings():
    public = parse_acl(".r:*")
    assert decide(None, "GET", SwiftPath("AUTH_test", "c", "o"), R, read_acl=public) == ALLOWED
    with pytest.raises(Unauthorized):  # listing needs .rlistings
        decide(None, "GET", SwiftPath("AUTH_test", "c"), R, read_acl=public)
    listed = parse_acl(".r:*,.rlistings")
    assert decide(None, "GET", SwiftPath("AUTH_test", "c"), R, read_acl=listed) == ALLOWED
    with pytest.raises(Unauthorized):
        decide(None, "PUT", SwiftPath("AUTH_test", "c", "o"), R, read_acl=listed)
    domain = parse_acl(".r:*.example.com")
    path = SwiftPath("AUTH_test", "c", "o")
    assert decide(PLAIN, "GET", path, R, read_acl=domain, referer="http://blah.example.com/x") == ALLOWED


def test_options_is_anyones_under_the_prefixes():
    assert decide(None, "OPTIONS", SwiftPath("SERVICE_test", "c"), R) == ALLOWED
    assert decide(PLAIN, "OPTIONS", SwiftPath("AUTH_test"), R) == ALLOWED
    with pytest.raises(Unauthorized):
        decide(None, "OPTIONS", SwiftPath("OTHER_test"), R)


def test_account_acl_levels():
    acl = AccountACL(admin=frozenset({"test:tester3"}))
    for method, path in [("POST", SwiftPath("AUTH_test")), ("DELETE", SwiftPath("AUTH_test", "c"))]:
        assert decide(PLAIN, method, path, R, account_acl=acl) == OWNER
    with pytest.raises(MethodNotAllowed):
        decide(PLAIN, "DELETE", SwiftPath("AUTH_test"), R, account_acl=acl)
    rw = AccountACL(read_write=frozenset({"test:tester3"}))
    assert decide(PLAIN, "GET", SwiftPath("AUTH_test"), R, account_acl=rw) == ALLOWED
    assert decide(PLAIN, "PUT", SwiftPath("AUTH_test", "new"), R, account_acl=rw) == ALLOWED
    assert decide(PLAIN, "DELETE", SwiftPath("AUTH_test", "c", "o"), R, account_acl=rw) == ALLOWED
    with pytest.raises(Forbidden):
        decide(PLAIN, "POST", SwiftPath("AUTH_test"), R, account_acl=rw)
    ro = AccountACL(read_only=frozenset({"test"}))  # every user of account test
    assert decide(PLAIN, "HEAD", SwiftPath("AUTH_test", "c", "o"), R, account_acl=ro) == ALLOWED
    for method, path in [("PUT", SwiftPath("AUTH_test", "c")), ("POST", SwiftPath("AUTH_test", "c", "o"))]:
        with pytest.raises(Forbidden):
            decide(PLAIN, method, path, R, account_acl=ro)
    with pytest.raises(Unauthorized):  # account ACLs name users: anonymous gets nothing
        decide(None, "GET", SwiftPath("AUTH_test"), R, account_acl=AccountACL(read_only=frozenset({"*"})))


def test_service_accounts_need_the_service_group():
    path = SwiftPath("SERVICE_test", "c", "o")
    with pytest.raises(Forbidden):  # the project's admin alone
        decide(OWNER_USER, "GET", path, R)
    with pytest.raises(Forbidden):  # the service user alone, in either header
        decide(with_service(SERVICE), "GET", path, R)
    assert decide(with_service(OWNER_USER), "GET", path, R) == OWNER
    assert decide(with_service(OWNER_USER), "POST", SwiftPath("SERVICE_test"), R) == OWNER
    assert decide(OWNER_USER, "GET", SwiftPath("AUTH_test"), R) == OWNER  # AUTH_ requires nothing
    assert owns(with_service(PLAIN, OWNER_USER), "AUTH_test", R)  # an admin's service token also counts
    assert not owns(with_service(OWNER_USER), "SERVICE_other", R)


def test_acl_names_and_when_the_account_acl_matters():
    names = acl_names(with_service(PLAIN), R)
    assert {"test", "test:tester3", "AUTH_test:tester3", "*", "test5:tester5", "service"} <= names
    assert ".admin" not in acl_names(OWNER_USER, R)
    assert needs_account_acl(PLAIN, SwiftPath("AUTH_test", "c"), R)
    assert not needs_account_acl(None, SwiftPath("AUTH_test", "c"), R)
    assert not needs_account_acl(OWNER_USER, SwiftPath("AUTH_test", "c"), R)
    assert not needs_account_acl(PLAIN, SwiftPath("OTHER_test", "c"), R)


def test_owner_view_hides_privileged_headers_from_others():
    headers = {"X-Container-Read": "a", "X-Container-Sync-Key": "k", "X-Container-Meta-Color": "red",
               "X-Account-Meta-Temp-URL-Key": "s", "X-Container-Object-Count": "1"}
    assert owner_view(headers, OWNER) == headers
    assert owner_view(headers, ALLOWED) == {"X-Container-Meta-Color": "red", "X-Container-Object-Count": "1"}


def test_a_temp_url_identity_is_allowed_only_inside_its_scope():
    account_wide = Identity("", ".wsgi.tempurl", frozenset(), 0, scope=SwiftPath("AUTH_test"))
    one_container = Identity("", ".wsgi.tempurl", frozenset(), 0, scope=SwiftPath("AUTH_test", "c"))
    for method in ("GET", "PUT", "DELETE"):
        assert decide(account_wide, method, SwiftPath("AUTH_test", "other", "o"), R) == ALLOWED
        assert decide(one_container, method, SwiftPath("AUTH_test", "c", "o"), R) == ALLOWED
        with pytest.raises(Unauthorized):
            decide(one_container, method, SwiftPath("AUTH_test", "other", "o"), R)
        with pytest.raises(Unauthorized):
            decide(account_wide, method, SwiftPath("AUTH_test2", "c", "o"), R)
    # never an owner, and no ACL or account ACL is asked about it
    assert not owns(account_wide, "AUTH_test", R)
    assert not needs_account_acl(account_wide, SwiftPath("AUTH_test", "c"), R)
    assert decide(account_wide, "HEAD", SwiftPath("AUTH_test", "c"), R) == ALLOWED
