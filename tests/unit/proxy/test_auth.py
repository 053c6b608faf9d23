import pytest

from martlet.errors import ConfigError, Unauthorized
from proxy import auth
from proxy.auth import Resellers, authenticate, make_token, parse_resellers, parse_users, verify_token, verify_tokens

RAW = {
    "user_test_tester": "testing .admin",
    "user_test_tester2": "testing2",
    "user_test5_tester5": "testing5 service",
    "user_admin_admin": "admin .admin .reseller_admin",
    "token_life": "ignored-not-a-user",
}


def test_parse_users_groups():
    users = parse_users(RAW)
    assert set(users) == {"test:tester", "test:tester2", "test5:tester5", "admin:admin"}
    assert users["test:tester"].groups == {".admin"}
    assert users["test:tester2"].groups == frozenset()
    assert users["test5:tester5"].groups == {"service"}
    assert users["admin:admin"].groups == {".admin", ".reseller_admin"}
    assert users["test:tester"].key == "testing"


@pytest.mark.parametrize("option,value", [("user_noaccount", "k"), ("user_a_b", ""), ("user_a_b", "k .root"),
                                          ("user_a_b", "k a,b")])
def test_parse_users_rejects_malformed(option, value):
    with pytest.raises(ConfigError):
        parse_users({option: value})


def test_parse_resellers_as_swift_reads_them():
    assert parse_resellers({}) == Resellers(("AUTH_",), ())
    resellers = parse_resellers({"reseller_prefix": "AUTH, SERVICE_,AUTH", "service_require_group": "service"})
    assert resellers.prefixes == ("AUTH_", "SERVICE_")
    assert resellers.storage_prefix == "AUTH_"
    assert resellers.required_group("SERVICE_") == "service" and resellers.required_group("AUTH_") is None
    assert resellers.prefix_of("SERVICE_test") == "SERVICE_"
    assert resellers.prefix_of("OTHER_test") is None
    everyone = parse_resellers({"reseller_prefix": "AUTH, ''", "require_group": "g"})
    assert everyone.prefix_of("OTHER_test") == "" and everyone.required_group("") == "g"
    assert everyone.required_group("AUTH_") == "g"
    with pytest.raises(ConfigError, match="other_require_group"):
        parse_resellers({"reseller_prefix": "AUTH", "other_require_group": "x"})


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


def test_a_service_token_joins_a_user_token_never_replaces_it():
    users = parse_users(RAW)
    user = make_token("s", users["test:tester"], now=0.0, token_life=60)
    service = make_token("s", users["test5:tester5"], now=0.0, token_life=60)
    both = verify_tokens("s", user, service, now=1.0)
    assert both is not None and both.name == "test:tester"
    assert both.service is not None and both.service.name == "test5:tester5"
    assert both.all_groups == {".admin", "service"}
    assert verify_tokens("s", None, service, now=1.0) is None
    assert verify_tokens("s", "AUTH_tkforged.x", service, now=1.0) is None
    alone = verify_tokens("s", user, "AUTH_tkforged.x", now=1.0)
    assert alone is not None and alone.service is None


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


def test_a_remembered_token_still_expires_and_is_bounded(monkeypatch: pytest.MonkeyPatch):
    # Verified tokens are remembered (no HMAC per request): the expiry is
    # still checked on every use, and the memory never grows past its bound.
    monkeypatch.setattr(auth, "_verified", {})
    checks: list[str] = []
    real_check = auth._check_token

    def counting(secret: str, token: str) -> object:
        checks.append(token)
        return real_check(secret, token)

    monkeypatch.setattr(auth, "_check_token", counting)
    user = parse_users(RAW)["test:tester"]
    token = make_token("s3cret", user, now=1000.0, token_life=1000)
    assert verify_token("s3cret", token, now=1000.0) is not None
    assert verify_token("s3cret", token, now=1999.0) is not None
    assert verify_token("s3cret", token, now=2000.0) is None
    assert checks == [token]  # the signature was checked once, then remembered
    assert verify_token("other", token, now=1000.0) is None  # remembered per secret
    assert verify_token("s3cret", token + "x", now=1000.0) is None
    for i in range(auth.VERIFIED_MAX + 10):
        verify_token("s3cret", make_token("s3cret", user, now=float(i), token_life=5000), now=1.0)
    assert 0 < len(auth._verified) <= auth.VERIFIED_MAX
    assert verify_token("s3cret", token, now=1000.0) is not None
