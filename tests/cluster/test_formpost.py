"""Browser form uploads (``proxy.formpost``) on a real cluster started
like ``martlet dev``."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster
from tests.cluster.feature_helpers import OWNER, call, exists, feature_cluster

pytestmark = pytest.mark.cluster

cluster = feature_cluster("formpost")
KEY = "form-secret"
BOUNDARY = "----formb0undary"


@pytest.fixture(scope="module")
def setup(cluster: RunningCluster) -> RunningCluster:
    assert call(cluster, "PUT", "fp", headers={"X-Container-Meta-Temp-URL-Key": KEY}).status_code == 201
    assert call(cluster, "PUT", "nokey").status_code == 201
    return cluster


def signed_fields(cluster: RunningCluster, path: str, *, key: str = KEY, redirect: str = "",
                  max_file_size: int = 1024, max_file_count: int = 2, expires: int | None = None,
                  digest: str = "sha256") -> tuple[str, list[tuple[str, str]]]:
    base, _ = cluster.auth(*OWNER)
    url = f"{base}/{path}"
    expires = int(time.time()) + 600 if expires is None else expires
    signed = f"{unquote(urlsplit(url).path)}\n{redirect}\n{max_file_size}\n{max_file_count}\n{expires}"
    sig = hmac.new(key.encode(), signed.encode(), getattr(hashlib, digest)).hexdigest()
    fields = [("redirect", redirect), ("max_file_size", str(max_file_size)),
              ("max_file_count", str(max_file_count)), ("expires", str(expires)), ("signature", sig)]
    return url, fields


def form(fields: list[tuple[str, str]], files: list[tuple[str, bytes, str | None]]) -> bytes:
    out = b""
    for name, value in fields:
        out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()
    for i, (filename, data, ctype) in enumerate(files):
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file{i}"; filename="{filename}"\r\n'
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        out += head.encode() + b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def post(url: str, data: bytes | Iterator[bytes]) -> requests.Response:
    return requests.post(url, data=data, timeout=60, allow_redirects=False,
                         headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})


def test_info_lists_formpost(cluster: RunningCluster) -> None:
    assert "allowed_digests" in requests.get(f"{cluster.proxy}/info", timeout=30).json()["formpost"]


def test_files_are_stored_with_their_content_type(setup: RunningCluster) -> None:
    url, fields = signed_fields(setup, "fp/up/")
    answer = post(url, form(fields + [("x_delete_after", "3600")],
                            [("a.txt", b"alpha", "text/plain"), ("b.bin", b"\x00beta", None)]))
    assert answer.status_code == 201, answer.text
    assert answer.text == "201 Created"
    got = call(setup, "GET", "fp/up/a.txt")
    assert got.content == b"alpha" and got.headers["Content-Type"] == "text/plain"
    assert "X-Delete-At" in got.headers
    assert call(setup, "GET", "fp/up/b.bin").content == b"\x00beta"


def test_redirect_gets_the_outcome(setup: RunningCluster) -> None:
    url, fields = signed_fields(setup, "fp/r-", redirect="http://example.com/done")
    answer = post(url, form(fields, [("x", b"x", None)]))
    assert answer.status_code == 303
    assert answer.headers["Location"] == "http://example.com/done?status=201&message="
    assert exists(setup, "fp/r-x")


def test_a_streamed_form_of_a_big_file(setup: RunningCluster) -> None:
    size = 3 * 1024 * 1024
    url, fields = signed_fields(setup, "fp/big-", max_file_size=size, max_file_count=1)
    data = form(fields, [("file", b"z" * size, None)])
    pieces = (data[i:i + 10000] for i in range(0, len(data), 10000))  # sent chunked
    assert post(url, pieces).status_code == 201
    assert call(setup, "HEAD", "fp/big-file").headers["Content-Length"] == str(size)


def test_refused_forms_store_nothing(setup: RunningCluster) -> None:
    cases = []
    url, fields = signed_fields(setup, "fp/bad-")
    wrong_sig = [(n, v if n != "signature" else "0" * 64) for n, v in fields]
    cases.append((url, form(wrong_sig, [("sig", b"x", None)]), 401, "FormPost: Invalid Signature"))
    url2, expired = signed_fields(setup, "fp/bad-", expires=int(time.time()) - 10)
    cases.append((url2, form(expired, [("exp", b"x", None)]), 401, "FormPost: Form Expired"))
    url3, other_key = signed_fields(setup, "fp/bad-", key="guess")
    cases.append((url3, form(other_key, [("key", b"x", None)]), 401, "FormPost: Invalid Signature"))
    url4, small = signed_fields(setup, "fp/bad-", max_file_size=4)
    cases.append((url4, form(small, [("big", b"12345", None)]), 400, "FormPost: max_file_size exceeded"))
    url5, one = signed_fields(setup, "fp/bad-", max_file_count=0)
    cases.append((url5, form(one, [("count", b"x", None)]), 400, "400 Bad Request\r\nFormPost: Max File Count Exceeded"))
    cases.append((url, b"not a form", 400, "FormPost: invalid starting boundary"))
    cases.append((url, form(fields, [])[:-20], 400, "FormPost: "))
    cases.append((url, form(fields + [("x_delete_at", "soon")], [("del", b"x", None)]), 400,
                  "FormPost: x_delete_at not an integer"))
    cases.append((url, form([f for f in fields if f[0] != "max_file_size"] + [("max_file_size", "lots")],
                            [("mfs", b"x", None)]), 400, "FormPost: max_file_size not an integer"))
    cases.append((url, form(fields, []), 400, "FormPost: No Files To Process"))
    nokey, nokey_fields = signed_fields(setup, "nokey/")
    cases.append((nokey, form(nokey_fields, [("nokey", b"x", None)]), 401, "FormPost: Invalid Signature"))
    for target, data, status, text in cases:
        answer = post(target, data)
        assert answer.status_code == status, (text, answer.text)
        assert text in answer.text
    listing = call(setup, "GET", "fp", params={"prefix": "bad-"}).text
    assert listing == ""
    assert call(setup, "GET", "nokey").text == ""


def test_too_many_files_keeps_the_ones_allowed(setup: RunningCluster) -> None:
    url, fields = signed_fields(setup, "fp/many-", max_file_count=1)
    answer = post(url, form(fields, [("one", b"1", None), ("two", b"2", None)]))
    assert answer.status_code == 400 and "Max File Count Exceeded" in answer.text
    assert exists(setup, "fp/many-one") and not exists(setup, "fp/many-two")


def test_a_form_reaches_only_its_own_container(setup: RunningCluster) -> None:
    """The signature's rights are its container's: a file name cannot
    climb out of it."""
    url, fields = signed_fields(setup, "fp")
    answer = post(url, form(fields, [("../nokey/escape", b"x", None)]))
    assert not exists(setup, "nokey/escape")
    assert answer.status_code in (201, 400)


def test_a_plain_post_is_untouched(setup: RunningCluster) -> None:
    assert call(setup, "PUT", "fp/plain", data=b"p").status_code == 201
    assert call(setup, "POST", "fp/plain", headers={"X-Object-Meta-A": "b"}).status_code == 202
    anon = requests.post(f"{setup.auth(*OWNER)[0]}/fp/plain", timeout=30,
                         headers={"Content-Type": "multipart/form-data"})
    assert anon.status_code == 401  # no boundary: not a form, and no token
