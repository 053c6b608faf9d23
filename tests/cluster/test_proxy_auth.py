"""Authorization end to end (tempauth's rules, ``proxy.authorization``):
account ACLs, service tokens, privileged headers, OPTIONS, and nothing
revealed about existence to whom may not read it."""

from __future__ import annotations

import json

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("proxy-auth")

OWNER = ("test:tester", "testing")
TESTER3 = ("test:tester3", "testing3")  # no role: acts through ACLs only
OTHER = ("test2:tester2", "testing2")  # the admin of another account
SERVICE = ("test5:tester5", "testing5")  # in the group "service"


def call(cluster: RunningCluster, method: str, path: str = "", who: tuple[str, str] | None = OWNER,
         account: str = "AUTH_test", headers: dict[str, str] | None = None, **kwargs) -> requests.Response:
    """``method`` on ``/v1/<account>/<path>`` as ``who`` (None: anonymous)."""
    hdrs = dict(headers or {})
    if who is not None:
        hdrs["X-Auth-Token"] = cluster.auth(*who)[1]
    url = f"{cluster.proxy}/v1/{account}" + (f"/{path}" if path else "")
    return requests.request(method, url, headers=hdrs, timeout=30, **kwargs)


def set_account_acl(cluster: RunningCluster, acl: dict[str, list[str]]) -> None:
    answer = call(cluster, "POST", headers={"X-Account-Access-Control": json.dumps(acl)})
    assert answer.status_code == 204, answer.text


@pytest.fixture
def acl_reset(cluster: RunningCluster):
    yield
    set_account_acl(cluster, {})


@pytest.fixture(scope="module")
def box(cluster: RunningCluster) -> str:
    assert call(cluster, "PUT", "box", headers={"X-Container-Meta-Color": "red"}).status_code in (201, 202)
    assert call(cluster, "PUT", "box/o", data=b"data").status_code == 201
    return "box"


def test_account_acl_is_validated_and_shown_to_owners_only(cluster: RunningCluster, box: str, acl_reset) -> None:
    for bad in ("invalid", '{"admin": "test:tester3"}', '{"owner": []}'):
        answer = call(cluster, "POST", headers={"X-Account-Access-Control": bad})
        assert answer.status_code == 400 and "X-Account-Access-Control invalid" in answer.text
    too_big = json.dumps({"admin": ["x" * 8200]})  # the HTTP parser or proxy.acl, whichever is first
    assert call(cluster, "POST", headers={"X-Account-Access-Control": too_big}).status_code == 400
    set_account_acl(cluster, {"read-only": ["test:tester3"]})
    shown = call(cluster, "HEAD").headers
    assert shown["X-Account-Access-Control"] == '{"read-only":["test:tester3"]}'
    assert not any(k.lower().startswith("x-account-sysmeta") for k in shown)
    reader = call(cluster, "HEAD", who=TESTER3)
    assert reader.status_code == 204 and "X-Account-Access-Control" not in reader.headers
    # A reader cannot change the ACL (nor anything else of the account).
    answer = call(cluster, "POST", who=TESTER3, headers={"X-Account-Access-Control": '{"admin":["test:tester3"]}'})
    assert answer.status_code == 403
    set_account_acl(cluster, {})
    assert "X-Account-Access-Control" not in call(cluster, "HEAD").headers
    assert call(cluster, "HEAD", who=TESTER3).status_code == 403


def test_account_acl_levels(cluster: RunningCluster, box: str, acl_reset) -> None:
    assert call(cluster, "GET", "box/o", who=TESTER3).status_code == 403
    set_account_acl(cluster, {"read-only": ["test:tester3"]})
    assert call(cluster, "GET", "", who=TESTER3).text.split() == ["box"]
    assert call(cluster, "GET", "box/o", who=TESTER3).content == b"data"
    assert call(cluster, "PUT", "box/new", who=TESTER3, data=b"x").status_code == 403
    assert call(cluster, "PUT", "made-by-reader", who=TESTER3).status_code == 403
    set_account_acl(cluster, {"read-write": ["test:tester3"]})
    assert call(cluster, "PUT", "box/new", who=TESTER3, data=b"x").status_code == 201
    assert call(cluster, "DELETE", "box/new", who=TESTER3).status_code == 204
    assert call(cluster, "PUT", "made-by-writer", who=TESTER3).status_code in (201, 202)
    assert call(cluster, "DELETE", "made-by-writer", who=TESTER3).status_code == 204
    assert call(cluster, "POST", "", who=TESTER3, headers={"X-Account-Meta-X": "1"}).status_code == 403
    assert call(cluster, "GET", "nosuch/o", who=TESTER3).status_code == 404  # allowed, so told
    set_account_acl(cluster, {"admin": ["test:tester3"]})
    answer = call(cluster, "POST", "", who=TESTER3, headers={"X-Account-Access-Control": "{}"})
    assert answer.status_code == 204  # an admin may even revoke its own access
    assert call(cluster, "GET", "box/o", who=TESTER3).status_code == 403


def test_privileged_container_headers_are_the_owners(cluster: RunningCluster, box: str, acl_reset) -> None:
    owner_headers = {"X-Container-Read": "jdoe", "X-Container-Write": "jdoe", "X-Container-Sync-Key": "secret"}
    assert call(cluster, "POST", "box", headers=owner_headers).status_code == 204
    assert {k: call(cluster, "HEAD", "box").headers.get(k) for k in owner_headers} == owner_headers
    set_account_acl(cluster, {"read-write": ["test:tester3"]})
    seen = call(cluster, "HEAD", "box", who=TESTER3)
    assert seen.status_code == 204 and seen.headers["X-Container-Meta-Color"] == "red"
    assert not set(owner_headers) & set(seen.headers)
    # A writer's changes of them are dropped, the rest of its POST stands.
    answer = call(cluster, "POST", "box", who=TESTER3,
                  headers={"X-Container-Read": ".r:*", "X-Container-Meta-Color": "blue"})
    assert answer.status_code == 204
    after = call(cluster, "HEAD", "box").headers
    assert after["X-Container-Read"] == "jdoe" and after["X-Container-Meta-Color"] == "blue"
    # Users granted by a container ACL do not see them either.
    assert call(cluster, "POST", "box", headers={"X-Container-Read": "test2:tester2"}).status_code == 204
    seen = call(cluster, "HEAD", "box", who=OTHER)
    assert seen.status_code == 204 and "X-Container-Read" not in seen.headers
    set_account_acl(cluster, {"admin": ["test:tester3"]})
    assert call(cluster, "HEAD", "box", who=TESTER3).headers["X-Container-Sync-Key"] == "secret"
    assert call(cluster, "POST", "box", headers={"X-Remove-Container-Read": "x"}).status_code == 204


def test_authorization_before_existence(cluster: RunningCluster, box: str) -> None:
    for path in ("box", "nosuch"):
        assert call(cluster, "HEAD", path, who=None).status_code == 401
        assert call(cluster, "GET", f"{path}/o", who=OTHER).status_code == 403
        assert call(cluster, "PUT", f"{path}/o", who=OTHER, data=b"x").status_code == 403
        assert call(cluster, "DELETE", f"{path}/o", who=OTHER).status_code == 403
    copy = call(cluster, "PUT", "mine/copy", who=OTHER, account="AUTH_test2",
                headers={"X-Copy-From-Account": "AUTH_test", "X-Copy-From": "nosuch/o"})
    assert copy.status_code == 403
    assert call(cluster, "GET", "nosuch/o").status_code == 404  # the owner is told


def test_referrer_domain_written_with_a_star(cluster: RunningCluster, box: str) -> None:
    assert call(cluster, "POST", "box", headers={"X-Container-Read": ".r:*.example.com"}).status_code == 204
    assert call(cluster, "HEAD", "box").headers["X-Container-Read"] == ".r:.example.com"
    for referer, status in (("http://blah.example.com/", 200), ("http://example.org/", 401)):
        assert call(cluster, "GET", "box/o", who=None, headers={"Referer": referer}).status_code == status
    assert call(cluster, "POST", "box", headers={"X-Remove-Container-Read": "x"}).status_code == 204


def test_service_accounts_need_a_service_token(cluster: RunningCluster) -> None:
    service_token = cluster.auth(*SERVICE)[1]
    both = {"X-Service-Token": service_token}
    assert call(cluster, "PUT", "c", account="SERVICE_test").status_code == 403
    assert call(cluster, "GET", "", who=SERVICE, account="SERVICE_test").status_code == 403
    assert call(cluster, "GET", "", who=SERVICE, account="SERVICE_test", headers=both).status_code == 403
    assert call(cluster, "POST", "", account="SERVICE_test", headers=both).status_code == 204
    assert call(cluster, "PUT", "c", account="SERVICE_test", headers=both).status_code in (201, 202)
    assert call(cluster, "PUT", "c/o", account="SERVICE_test", headers=both, data=b"x").status_code == 201
    assert call(cluster, "GET", "c/o", account="SERVICE_test", headers=both).content == b"x"
    assert call(cluster, "PUT", "", account="SERVICE_test", headers=both).status_code == 405
    assert call(cluster, "HEAD", "", account="AUTH_test").status_code == 204  # AUTH_ needs no service token


def test_options_without_origin(cluster: RunningCluster) -> None:
    for account, path, allow in (("SERVICE_test", "", "GET, HEAD, OPTIONS, POST"),
                                 ("AUTH_test", "c", "DELETE, GET, HEAD, OPTIONS, POST, PUT"),
                                 ("AUTH_test2", "nosuch/o", "DELETE, GET, HEAD, OPTIONS, POST, PUT")):
        for who in (None, OWNER):
            answer = call(cluster, "OPTIONS", path, who=who, account=account)
            assert answer.status_code == 200 and answer.headers["Allow"] == allow
    assert call(cluster, "OPTIONS", "", who=None, account="OTHER_test").status_code == 401


def test_a_reseller_admin_owns_only_accounts_under_the_prefixes(cluster: RunningCluster) -> None:
    admin = ("admin:admin", "admin")
    assert call(cluster, "HEAD", "", who=admin, account="AUTH_test").status_code == 204
    assert call(cluster, "HEAD", "", who=admin, account="OTHER_test").status_code == 403
    assert call(cluster, "HEAD", "", who=admin, account="AUTH_.dot").status_code == 403


def test_large_object_segments_are_read_with_the_clients_rights(cluster: RunningCluster) -> None:
    for container, acl in (("segs", ""), ("pub", ".r:*")):
        assert call(cluster, "PUT", container, headers={"X-Container-Read": acl}).status_code in (201, 202)
    assert call(cluster, "PUT", "segs/s1", data=b"secret").status_code == 201
    manifest = json.dumps([{"path": "/segs/s1"}])
    put = call(cluster, "PUT", "pub/slo?multipart-manifest=put", data=manifest)
    assert put.status_code == 201, put.text
    assert call(cluster, "GET", "pub/slo", who=None).status_code == 409  # the segment is not theirs to read
    assert call(cluster, "POST", "segs", headers={"X-Container-Read": ".r:*"}).status_code == 204
    assert call(cluster, "GET", "pub/slo", who=None).content == b"secret"
