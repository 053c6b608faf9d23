"""Quotas, quoted ETags and CORS (``proxy.quotas``, ``proxy.etag_quoter``,
``proxy.cors``) on a real cluster started like ``martlet dev`` (every
feature on), plus a cluster-wide CORS origin from the environment."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster, wait_for
from tests.cluster.feature_helpers import OTHER_OWNER, RESELLER, STRANGER, User, call, exists, feature_cluster

pytestmark = pytest.mark.cluster

OPS_ORIGIN = "http://ops.example"
cluster = feature_cluster("features", MARTLET_CORS_ALLOW_ORIGIN=OPS_ORIGIN)


def stats(cluster: RunningCluster, container: str) -> tuple[str, str]:
    head = call(cluster, "HEAD", container)
    return head.headers["X-Container-Object-Count"], head.headers["X-Container-Bytes-Used"]


def settled(cluster: RunningCluster, container: str, expected: tuple[str, str]) -> None:
    """Wait until the container's stats show the writes made so far (the
    last replica's row update may still be on its way when a PUT returns),
    as quotas read them."""
    wait_for(lambda: stats(cluster, container) == expected, 10, f"{container} stats {expected}", 0.1)


# --- container quotas ---------------------------------------------------------

def test_a_quota_must_be_a_number(cluster: RunningCluster) -> None:
    for method, name in (("PUT", "badq"), ("POST", "badq2")):
        if method == "POST":
            assert call(cluster, "PUT", name).status_code == 201
        for header in ("X-Container-Meta-Quota-Bytes", "X-Container-Meta-Quota-Count"):
            for value in ("-1", "ten"):
                answer = call(cluster, method, name, headers={header: value})
                assert answer.status_code == 400, (method, header, value)
    assert not exists(cluster, "badq")
    assert "X-Container-Meta-Quota-Bytes" not in call(cluster, "HEAD", "badq2").headers


def test_container_bytes_quota(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "cq", headers={"X-Container-Meta-Quota-Bytes": "10"}).status_code == 201
    over = call(cluster, "PUT", "cq/big", data=b"01234567890")
    assert over.status_code == 413 and over.text == "Upload exceeds quota."
    assert not exists(cluster, "cq/big") and stats(cluster, "cq") == ("0", "0")
    assert call(cluster, "PUT", "cq/fits", data=b"0123456789").status_code == 201
    settled(cluster, "cq", ("1", "10"))
    assert call(cluster, "PUT", "cq/one-more", data=b"x").status_code == 413
    assert call(cluster, "PUT", "cq/empty", data=b"").status_code == 201  # nothing added, nothing passed


def test_a_chunked_upload_is_cut_at_the_quota(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "cqc", headers={"X-Container-Meta-Quota-Bytes": "1000"}).status_code == 201

    def body(size: int) -> Iterator[bytes]:
        for _ in range(size // 100):
            yield b"z" * 100

    assert call(cluster, "PUT", "cqc/over", data=body(1500)).status_code == 413
    assert not exists(cluster, "cqc/over")
    assert call(cluster, "PUT", "cqc/under", data=body(900)).status_code == 201


def test_container_count_quota_and_copies(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "src").status_code in (201, 202)
    assert call(cluster, "PUT", "src/big", data=b"b" * 50).status_code == 201
    assert call(cluster, "PUT", "cc", headers={"X-Container-Meta-Quota-Count": "1",
                                                "X-Container-Meta-Quota-Bytes": "40"}).status_code == 201
    assert call(cluster, "PUT", "cc/copy", headers={"X-Copy-From": "src/big"}).status_code == 413
    assert call(cluster, "COPY", "src/big", headers={"Destination": "cc/copy"}).status_code == 413
    assert not exists(cluster, "cc/copy")
    assert call(cluster, "PUT", "cc/first", data=b"1").status_code == 201
    settled(cluster, "cc", ("1", "1"))
    assert call(cluster, "PUT", "cc/second", data=b"2").status_code == 413


def test_an_over_quota_answer_tells_strangers_nothing(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "full", headers={"X-Container-Meta-Quota-Count": "0"}).status_code == 201
    assert call(cluster, "PUT", "full/o", data=b"x", user=STRANGER).status_code == 403
    assert call(cluster, "PUT", "full/o", data=b"x", user=None).status_code == 401
    assert call(cluster, "PUT", "full/o", data=b"x").status_code == 413


# --- account quotas -----------------------------------------------------------------

def test_only_a_reseller_sets_account_quotas(cluster: RunningCluster) -> None:
    for header in ("X-Account-Quota-Bytes", "X-Account-Meta-Quota-Bytes", "X-Account-Quota-Count",
                   "X-Remove-Account-Quota-Bytes", "X-Account-Quota-Bytes-Policy-Policy-0"):
        assert call(cluster, "POST", headers={header: "1"}).status_code == 403, header
    assert call(cluster, "POST", headers={"X-Account-Quota-Bytes": "1"}, user=None).status_code == 401
    assert call(cluster, "POST", headers={"X-Account-Quota-Bytes": "-1"}, user=RESELLER).status_code == 400
    assert "X-Account-Quota-Bytes" not in call(cluster, "HEAD").headers


def test_account_quota_refuses_uploads_but_not_the_reseller(cluster: RunningCluster) -> None:
    # A fresh account: its usage is 0 for sure (stats of a busy one lag).
    def on(method: str, path: str = "", user: User = OTHER_OWNER, **kwargs: Any) -> requests.Response:
        return call(cluster, method, path, user=user, account=OTHER_OWNER, **kwargs)

    assert on("PUT", "aq").status_code in (201, 202)
    assert on("POST", headers={"X-Account-Quota-Bytes": "5"}, user=RESELLER).status_code == 204
    assert on("HEAD").headers["X-Account-Quota-Bytes"] == "5"
    assert on("PUT", "aq/big", data=b"x" * 6).status_code == 413
    assert on("HEAD", "aq/big").status_code == 404
    assert on("PUT", "aq/fits", data=b"x" * 5).status_code == 201
    assert on("PUT", "aq/reseller", data=b"x" * 6, user=RESELLER).status_code == 201
    assert on("POST", headers={"X-Remove-Account-Quota-Bytes": "t"}, user=RESELLER).status_code == 204
    assert "X-Account-Quota-Bytes" not in on("HEAD").headers
    assert on("PUT", "aq/big", data=b"x" * 6).status_code == 201


# --- quoted ETags --------------------------------------------------------------------

def test_etags_are_quoted_where_asked(cluster: RunningCluster) -> None:
    etag = hashlib.md5(b"test").hexdigest()
    assert call(cluster, "PUT", "eq").status_code in (201, 202)
    assert call(cluster, "PUT", "eq/o", data=b"test").headers["ETag"] == etag
    assert call(cluster, "HEAD", "eq/o").headers["ETag"] == etag
    assert call(cluster, "POST", "eq", headers={"X-Container-Rfc-Compliant-Etags": "t"}).status_code == 204
    assert call(cluster, "HEAD", "eq").headers["X-Container-Rfc-Compliant-Etags"] == "True"
    assert call(cluster, "HEAD", "eq/o").headers["ETag"] == f'"{etag}"'
    assert call(cluster, "GET", "eq/o").headers["ETag"] == f'"{etag}"'
    assert call(cluster, "PUT", "eq/p", data=b"test").headers["ETag"] == f'"{etag}"'
    try:
        assert call(cluster, "POST", headers={"X-Account-Rfc-Compliant-Etags": "t"}).status_code == 204
        assert call(cluster, "POST", "eq", headers={"X-Container-Rfc-Compliant-Etags": ""}).status_code == 204
        assert call(cluster, "HEAD", "eq/o").headers["ETag"] == f'"{etag}"'  # the account's setting
        assert call(cluster, "POST", "eq", headers={"X-Container-Rfc-Compliant-Etags": "f"}).status_code == 204
        assert call(cluster, "HEAD", "eq/o").headers["ETag"] == etag  # the container's wins
    finally:
        call(cluster, "POST", headers={"X-Account-Rfc-Compliant-Etags": ""})
    # a client cannot write the system metadata behind it
    assert call(cluster, "POST", "eq", headers={"X-Container-Sysmeta-Rfc-Compliant-Etags": "True"}
                ).status_code == 204
    assert call(cluster, "HEAD", "eq").headers["X-Container-Rfc-Compliant-Etags"] == "False"


# --- CORS ------------------------------------------------------------------------------

def test_preflight(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "cors", headers={
        "X-Container-Meta-Access-Control-Allow-Origin": "http://a.example",
        "X-Container-Meta-Access-Control-Max-Age": "60"}).status_code == 201
    allowed = call(cluster, "OPTIONS", "cors/o", user=None,
                   headers={"Origin": "http://a.example", "Access-Control-Request-Method": "PUT",
                            "Access-Control-Request-Headers": "x-auth-token"})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://a.example"
    assert allowed.headers["Access-Control-Max-Age"] == "60"
    assert allowed.headers["Access-Control-Allow-Headers"] == "x-auth-token"
    assert "Access-Control-Expose-Headers" not in allowed.headers
    for headers in ({"Origin": "http://b.example", "Access-Control-Request-Method": "GET"},
                    {"Origin": "http://a.example"}):
        assert call(cluster, "OPTIONS", "cors/o", user=None, headers=headers).status_code == 401
    ops = call(cluster, "OPTIONS", "cors", user=None, headers={"Origin": OPS_ORIGIN,
                                                              "Access-Control-Request-Method": "GET"})
    assert ops.status_code == 200 and ops.headers["Access-Control-Allow-Origin"] == OPS_ORIGIN
    # a missing container allows no more than the cluster does, and says nothing else
    missing = call(cluster, "OPTIONS", "no-such/o", user=None,
                   headers={"Origin": "http://a.example", "Access-Control-Request-Method": "GET"})
    assert missing.status_code == 401


def test_actual_requests(cluster: RunningCluster) -> None:
    assert call(cluster, "PUT", "cors2", headers={"X-Container-Meta-Access-Control-Allow-Origin": "*",
                                                  "X-Container-Meta-Access-Control-Expose-Headers": "X-Custom"}
                ).status_code == 201
    assert call(cluster, "PUT", "cors2/o", data=b"x", headers={"X-Object-Meta-Color": "red"}).status_code == 201
    got = call(cluster, "GET", "cors2/o", headers={"Origin": "http://m.example"})
    assert got.headers["Access-Control-Allow-Origin"] == "*"
    exposed = got.headers["Access-Control-Expose-Headers"].split(", ")
    assert {"x-object-meta-color", "x-custom", "etag", "x-trans-id"} <= set(exposed)
    missing = call(cluster, "GET", "cors2/nothing", headers={"Origin": "http://m.example"})
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"
    listing = call(cluster, "GET", "cors2", headers={"Origin": "http://m.example"})
    assert listing.status_code == 200 and listing.headers["Access-Control-Allow-Origin"] == "*"
    # strict mode: an origin the container does not allow gets no CORS headers
    assert call(cluster, "POST", "cors2", headers={
        "X-Container-Meta-Access-Control-Allow-Origin": "http://only.example"}).status_code == 204
    other = call(cluster, "GET", "cors2/o", headers={"Origin": "http://m.example"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    only = call(cluster, "GET", "cors2/o", headers={"Origin": "http://only.example"})
    assert only.headers["Access-Control-Allow-Origin"] == "http://only.example"
    assert "Origin" in only.headers["Vary"]
    assert "Access-Control-Allow-Origin" not in call(cluster, "GET", "cors2/o").headers


def test_info(cluster: RunningCluster) -> None:
    info = requests.get(cluster.proxy + "/info", timeout=10).json()
    assert info["account_quotas"] == {} and info["container_quotas"] == {}
    assert info["etag_quoter"] == {"enable_by_default": False}
    assert info["swift"]["strict_cors_mode"] is True
