"""Temp URLs (``proxy.tempurl``) on a real cluster started like ``martlet
dev``, with sha1 switched off through the environment."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster
from tests.cluster.feature_helpers import OWNER, STRANGER, call, exists, feature_cluster

pytestmark = pytest.mark.cluster

cluster = feature_cluster("tempurl", MARTLET_TEMPURL_ALLOWED_DIGESTS="sha256,sha512")
ACCOUNT_KEY = "account-secret"
CONTAINER_KEY = "container-secret"


@pytest.fixture(scope="module")
def setup(cluster: RunningCluster) -> RunningCluster:
    assert call(cluster, "POST", headers={"X-Account-Meta-Temp-URL-Key": ACCOUNT_KEY}).status_code == 204
    assert call(cluster, "PUT", "tu").status_code == 201
    assert call(cluster, "PUT", "tu/obj", data=b"contents", headers={
        "X-Object-Meta-Secret": "s", "X-Object-Meta-Public-Tag": "t"}).status_code == 201
    assert call(cluster, "PUT", "tu/d/x", data=b"in d").status_code == 201
    assert call(cluster, "PUT", "tu/e/x", data=b"in e").status_code == 201
    assert call(cluster, "PUT", "tc", headers={"X-Container-Meta-Temp-URL-Key-2": CONTAINER_KEY,
                                              "X-Container-Read": "test:tester3"}).status_code == 201
    assert call(cluster, "PUT", "tc/obj", data=b"container keyed").status_code == 201
    return cluster


def temp_url(cluster: RunningCluster, method: str, path: str, key: str = ACCOUNT_KEY, *,
             expires: int | None = None, digest: str = "sha256", b64: bool = False,
             prefix: str | None = None, ip_range: str | None = None) -> tuple[str, dict[str, str]]:
    """The URL of ``path`` (under the owner's account) and its temp URL query."""
    base, _ = cluster.auth(*OWNER)
    url = f"{base}/{path}"
    expires = int(time.time()) + 600 if expires is None else expires
    signed = unquote(urlsplit(url).path)
    if prefix is not None:
        signed = "prefix:" + "/".join(unquote(urlsplit(url).path).split("/")[:4]) + "/" + prefix
    message = f"{method}\n{expires}\n{signed}"
    if ip_range:
        message = f"ip={ip_range}\n{message}"
    mac = hmac.new(key.encode(), message.encode(), getattr(hashlib, digest))
    sig = f"{digest}:{base64.urlsafe_b64encode(mac.digest()).decode()}" if b64 else mac.hexdigest()
    params = {"temp_url_sig": sig, "temp_url_expires": str(expires)}
    if prefix is not None:
        params["temp_url_prefix"] = prefix
    if ip_range:
        params["temp_url_ip_range"] = ip_range
    return url, params


def anon(method: str, url: str, params: dict[str, str], **kwargs: Any) -> requests.Response:
    return requests.request(method, url, params=params, timeout=30, **kwargs)


def test_info_lists_tempurl(cluster: RunningCluster) -> None:
    info = requests.get(f"{cluster.proxy}/info", timeout=30).json()["tempurl"]
    assert info["allowed_digests"] == ["sha256", "sha512"]
    assert info["methods"] == ["GET", "HEAD", "PUT", "POST", "DELETE"]
    assert info["outgoing_remove_headers"] == ["x-object-meta-*"]
    assert info["incoming_remove_headers"] == ["x-timestamp", "x-open-expired"]


def test_get_with_account_key(setup: RunningCluster) -> None:
    url, params = temp_url(setup, "GET", "tu/obj")
    answer = anon("GET", url, params)
    assert answer.status_code == 200 and answer.content == b"contents"
    assert answer.headers["Content-Disposition"] == "attachment; filename=\"obj\"; filename*=UTF-8''obj"
    assert "Expires" in answer.headers
    # outgoing rules: private metadata hidden, public kept
    assert "X-Object-Meta-Secret" not in answer.headers
    assert answer.headers["X-Object-Meta-Public-Tag"] == "t"
    assert anon("HEAD", url, params).status_code == 200  # a GET signature lets a HEAD through
    assert anon("PUT", url, params, data=b"x").status_code == 401
    assert anon("DELETE", url, params).status_code == 401
    assert call(setup, "GET", "tu/obj").content == b"contents"


def test_base64_sha512_and_iso8601_expiry(setup: RunningCluster) -> None:
    expires = int(time.time()) + 600
    url, params = temp_url(setup, "GET", "tu/obj", digest="sha512", b64=True, expires=expires)
    params["temp_url_expires"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
    assert anon("GET", url, params).content == b"contents"


def test_refused_signatures_are_401(setup: RunningCluster) -> None:
    url, params = temp_url(setup, "GET", "tu/obj")
    bad = [
        {**params, "temp_url_sig": params["temp_url_sig"][:-1] + ("0" if params["temp_url_sig"][-1] != "0" else "1")},
        {**params, "temp_url_expires": str(int(params["temp_url_expires"]) + 1)},
        {**params, "temp_url_expires": "soon"},
        {"temp_url_sig": params["temp_url_sig"]},
        {"temp_url_expires": params["temp_url_expires"]},
        {**params, "temp_url_sig": "sha512:!!!"},
        {**params, "temp_url_sig": params["temp_url_sig"].upper()},
    ]
    for query in bad:
        answer = anon("GET", url, query)
        assert answer.status_code == 401, query
        assert answer.text == "401 Unauthorized: Temp URL invalid\n"
    expired_url, expired = temp_url(setup, "GET", "tu/obj", expires=int(time.time()) - 1)
    assert anon("GET", expired_url, expired).status_code == 401
    # sha1 is switched off here
    sha1_url, sha1 = temp_url(setup, "GET", "tu/obj", digest="sha1")
    assert anon("GET", sha1_url, sha1).status_code == 401
    # another object, the container, the wrong key
    other, _ = temp_url(setup, "GET", "tu/d/x")
    assert anon("GET", other, params).status_code == 401
    cont, cparams = temp_url(setup, "GET", "tu")
    assert anon("GET", cont, cparams).status_code == 401
    wrong_url, wrong = temp_url(setup, "GET", "tu/obj", key="guess")
    assert anon("GET", wrong_url, wrong).status_code == 401


def test_put_stores_and_bad_put_stores_nothing(setup: RunningCluster) -> None:
    url, params = temp_url(setup, "PUT", "tu/uploaded")
    assert anon("PUT", url, params, data=b"new").status_code == 201
    assert call(setup, "GET", "tu/uploaded").content == b"new"
    assert anon("HEAD", url, params).status_code == 200  # a PUT signature lets a HEAD through
    assert anon("GET", url, params).status_code == 401
    # a bad signature, a disallowed header: nothing stored
    bad_url, bad = temp_url(setup, "PUT", "tu/refused", key="guess")
    assert anon("PUT", bad_url, bad, data=b"no").status_code == 401
    for header in ("X-Object-Manifest", "X-Symlink-Target", "X-Copy-From"):
        put_url, put = temp_url(setup, "PUT", "tu/refused")
        answer = anon("PUT", put_url, put, data=b"no", headers={header: "tc/obj"})
        assert answer.status_code == 400 and header in answer.text
    assert not exists(setup, "tu/refused")


def test_container_key_is_scoped_to_its_container(setup: RunningCluster) -> None:
    url, params = temp_url(setup, "GET", "tc/obj", key=CONTAINER_KEY)
    assert anon("GET", url, params).content == b"container keyed"
    other_url, other = temp_url(setup, "GET", "tu/obj", key=CONTAINER_KEY)
    assert anon("GET", other_url, other).status_code == 401
    # a DLO in tc whose segments are in tu: the container key does not reach them
    assert call(setup, "PUT", "tc/dlo", data=b"", headers={"X-Object-Manifest": "tu/d/"}).status_code == 201
    dlo_url, dlo = temp_url(setup, "GET", "tc/dlo", key=CONTAINER_KEY)
    assert anon("GET", dlo_url, dlo).status_code in (401, 403)
    acct_url, acct = temp_url(setup, "GET", "tc/dlo")
    assert anon("GET", acct_url, acct).content == b"in d"


def test_keys_are_shown_to_owners_only(setup: RunningCluster) -> None:
    assert call(setup, "HEAD", "tc").headers["X-Container-Meta-Temp-URL-Key-2"] == CONTAINER_KEY
    assert "X-Container-Meta-Temp-URL-Key-2" not in call(setup, "HEAD", "tc", user=STRANGER).headers
    assert call(setup, "HEAD").headers["X-Account-Meta-Temp-URL-Key"] == ACCOUNT_KEY


def test_prefix_and_ip_range(setup: RunningCluster) -> None:
    url, params = temp_url(setup, "GET", "tu/d/x", prefix="d/")
    assert anon("GET", url, params).content == b"in d"
    e_url, _ = temp_url(setup, "GET", "tu/e/x")
    assert anon("GET", e_url, params).status_code == 401
    ip_url, ip = temp_url(setup, "GET", "tu/obj", ip_range="127.0.0.1")
    assert anon("GET", ip_url, ip).content == b"contents"
    far_url, far = temp_url(setup, "GET", "tu/obj", ip_range="10.0.0.0/8")
    assert anon("GET", far_url, far).status_code == 401


def test_disposition_from_query(setup: RunningCluster) -> None:
    url, params = temp_url(setup, "GET", "tu/obj")
    assert anon("GET", url, {**params, "inline": ""}).headers["Content-Disposition"] == "inline"
    named = anon("GET", url, {**params, "filename": "report 1.txt"}).headers["Content-Disposition"]
    assert named == "attachment; filename=\"report 1.txt\"; filename*=UTF-8''report%201.txt"


def test_only_the_signed_request_goes_through(setup: RunningCluster) -> None:
    """Query parameters beside the temp URL's are dropped (a signed GET is
    no manifest read), and a temp URL identity never owns the account."""
    assert call(setup, "PUT", "tu/seg", data=b"segment").status_code == 201
    manifest = '[{"path": "/tu/seg"}]'
    assert call(setup, "PUT", "tu/slo?multipart-manifest=put", data=manifest).status_code == 201
    url, params = temp_url(setup, "GET", "tu/slo")
    answer = anon("GET", url, {**params, "multipart-manifest": "get"})
    assert answer.status_code == 200 and answer.content == b"segment"
    post_url, post = temp_url(setup, "POST", "tu/obj")
    answer = anon("POST", post_url, post, headers={"X-Object-Meta-Public-Tag": "t2", "X-Timestamp": "1"})
    assert answer.status_code == 202
    assert call(setup, "HEAD", "tu/obj").headers["X-Object-Meta-Public-Tag"] == "t2"


def test_a_container_wide_temp_url_reaches_a_container_only_as_a_web_site(setup: RunningCluster) -> None:
    # the container's own listing is never a temp URL's to read...
    url, params = temp_url(setup, "GET", "tu", prefix="")
    assert requests.get(url, params=params, timeout=30).status_code == 401
    # ...but a static web site's listing is, and its links carry the signature
    assert call(setup, "PUT", "site", headers={"X-Container-Meta-Web-Listings": "true"}).status_code == 201
    assert call(setup, "PUT", "site/page.html", data=b"<p>hi</p>").status_code == 201
    url, params = temp_url(setup, "GET", "site", prefix="")
    moved = requests.get(url, params=params, timeout=30, allow_redirects=False)
    assert moved.status_code == 301
    listing = requests.get(url + "/", params=params, timeout=30)
    assert listing.status_code == 200 and "page.html?temp_url_prefix=" in listing.text
    # a signature for objects under a prefix does not open the site's root
    url, params = temp_url(setup, "GET", "site", prefix="page")
    assert requests.get(url + "/", params=params, timeout=30).status_code == 401
