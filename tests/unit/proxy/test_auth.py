import pytest

from martlet.errors import ConfigError, Unauthorized
from proxy.auth import authenticate, make_token, parse_users, verify_token

RAW = {
    "user_test_tester": "testing .admin",
    "user_test_tester2": "testing2",
    "user_admin_admin": "admin .admin .reseller_admin",
    "token_life": "ignored-not-a-user",
}


def test_parse_users_roles():
    users = parse_users(RAW)
    assert set(users) == {"test:tester", "test:tester2", "admin:admin"}
    assert users["test:tester"].roles == {".admin"}
    assert users["test:tester2"].roles == frozenset()
    assert users["admin:admin"].roles == {".admin", ".reseller_admin"}
    assert users["test:tester"].key == "testing"


@pytest.mark.parametrize("option,value", [("user_noaccount", "k"), ("user_a_b", ""), ("user_a_b", "k .root")])
def test_parse_users_rejects_malformed(option, value):
    with pytest.raises(ConfigError):
        parse_users({option: value})


def test_authenticate():
    users = parse_users(RAW)
    assert authenticate(users, "test:tester", "testing").user == "tester"
    for user, key in [("test:tester", "wrong"), ("nobody:x", "testing"), (None, "k"), ("test:tester", None)]:
        with pytest.raises(Unauthorized):
            authenticate(users, user, key)


def test_token_roundtrip_and_expiry():
    user = parse_users(RAW)["admin:admin"]
    token = make_token("s3cret", user, now=1000.0, token_life=60)
    identity = verify_token("s3cret", token, now=1059.0)
    assert identity is not None
    assert (identity.account, identity.user) == ("admin", "admin")
    assert identity.is_admin and identity.is_reseller_admin
    assert verify_token("s3cret", token, now=1060.0) is None  # expired
    assert verify_token("other", token, now=1001.0) is None  # another cluster's secret


def test_token_tampering_is_refused():
    user = parse_users(RAW)["test:tester2"]
    token = make_token("s3cret", user, now=0.0, token_life=60)
    admin = parse_users(RAW)["admin:admin"]
    forged_payload = make_token("guess", admin, now=0.0, token_life=60).split(".")[0]
    signature = token.rsplit(".", 1)[1]
    assert verify_token("s3cret", f"{forged_payload}.{signature}", now=1.0) is None
    assert verify_token("s3cret", "AUTH_tkgarbage", now=1.0) is None
    assert verify_token("s3cret", "nottoken", now=1.0) is None
    assert verify_token("s3cret", token + "x", now=1.0) is None
