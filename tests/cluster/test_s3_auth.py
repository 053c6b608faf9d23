"""S3 signatures on a real cluster: presigned URLs, and every way a
signature is refused, each with S3's error code. A client clock that is
off (the one fault not made for real) is botocore's own clock, patched."""

from __future__ import annotations

import datetime
import http.client
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import botocore.auth
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture
from tests.cluster.feature_helpers import call
from tests.cluster.s3_helpers import ACCESS, SECRET, error_code, s3_client

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("s3auth")


@pytest.fixture(scope="module")
def s3(cluster: RunningCluster) -> Any:
    client = s3_client(cluster, signature_version="s3v4")  # presigned URLs too
    client.create_bucket(Bucket="auth")
    client.put_object(Bucket="auth", Key="obj", Body=b"secret data")
    return client


@pytest.fixture
def skewed_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """botocore signs as if it were 20 minutes ago."""
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda: real() - datetime.timedelta(minutes=20))
    yield


def _code(answer: requests.Response) -> str:
    text = answer.text
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""


def test_wrong_secret(cluster: RunningCluster, s3: Any) -> None:
    with pytest.raises(ClientError) as bad:
        s3_client(cluster, secret="wrong").get_object(Bucket="auth", Key="obj")
    assert error_code(bad.value) == "SignatureDoesNotMatch"
    assert bad.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_access_key(cluster: RunningCluster, s3: Any) -> None:
    with pytest.raises(ClientError) as bad:
        s3_client(cluster, access="nobody:here").list_buckets()
    assert error_code(bad.value) == "InvalidAccessKeyId"


def test_skewed_clock(cluster: RunningCluster, s3: Any, skewed_clock: None) -> None:
    with pytest.raises(ClientError) as bad:
        s3_client(cluster).list_buckets()
    assert error_code(bad.value) == "RequestTimeTooSkewed"


def test_presigned_get_and_put(s3: Any) -> None:
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "auth", "Key": "obj"}, ExpiresIn=300)
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 200 and answer.content == b"secret data"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "auth", "Key": "by-url"}, ExpiresIn=300)
    assert requests.put(put_url, data=b"uploaded by url", timeout=30).status_code == 200
    assert s3.get_object(Bucket="auth", Key="by-url")["Body"].read() == b"uploaded by url"
    tampered = url.replace("obj", "ob2")
    assert _code(requests.get(tampered, timeout=30)) == "SignatureDoesNotMatch"


def test_expired_presigned_url(s3: Any, skewed_clock: None) -> None:
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "auth", "Key": "obj"}, ExpiresIn=60)
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 403 and _code(answer) == "AccessDenied"
    assert "expired" in answer.text


def _signed_put(cluster: RunningCluster, key: str, body: bytes, signed_body: bytes | None = None,
                unsigned: bool = False) -> requests.Response:
    """A PUT signed (by botocore) for ``signed_body``, sending ``body``."""
    url = f"{cluster.proxy}/auth/{key}"
    request = AWSRequest(method="PUT", url=url, data=body if signed_body is None else signed_body)
    if unsigned:
        request.context["payload_signing_enabled"] = False
    S3SigV4Auth(Credentials(ACCESS, SECRET), "s3", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    return requests.put(url, data=body, headers=headers, timeout=30)


def test_payload_hash_checked_before_commit(cluster: RunningCluster, s3: Any) -> None:
    body = b"x" * (3 * 1024 * 1024 + 7)  # several chunks
    good = _signed_put(cluster, "hashed", body)
    assert good.status_code == 200, good.text
    other = b"y" + body[1:]  # same length, another sha256
    wrong = _signed_put(cluster, "mismatch", other, signed_body=body)
    assert wrong.status_code == 400 and _code(wrong) == "XAmzContentSHA256Mismatch"
    assert call(cluster, "HEAD", "auth/mismatch").status_code == 404
    assert _code(_signed_put(cluster, "small-mismatch", b"b", signed_body=b"a")) == "XAmzContentSHA256Mismatch"
    assert call(cluster, "HEAD", "auth/small-mismatch").status_code == 404
    unsigned = _signed_put(cluster, "unsigned", b"free", unsigned=True)
    assert unsigned.status_code == 200, unsigned.text
    assert call(cluster, "GET", "auth/unsigned").content == b"free"


def test_swift_requests_unaffected(cluster: RunningCluster, s3: Any) -> None:
    """A Swift request of the same object still answers as Swift does."""
    answer = call(cluster, "GET", "auth/obj")
    assert answer.status_code == 200 and answer.content == b"secret data"
    assert requests.get(f"{cluster.proxy}/auth/obj", timeout=30).status_code in (400, 404, 412)


def test_signature_v2(cluster: RunningCluster, s3: Any) -> None:
    """boto3 presigns with V2 unless told otherwise; V2 headers too."""
    default = s3_client(cluster)
    url = default.generate_presigned_url("get_object", Params={"Bucket": "auth", "Key": "obj"}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in url
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 200 and answer.content == b"secret data"
    v2 = s3_client(cluster, signature_version="s3")
    v2.put_object(Bucket="auth", Key="v2 é", Body=b"signed v2", Metadata={"v": "2"})
    got = v2.get_object(Bucket="auth", Key="v2 é")
    assert got["Body"].read() == b"signed v2" and got["Metadata"] == {"v": "2"}
    with pytest.raises(ClientError) as bad:
        s3_client(cluster, secret="wrong", signature_version="s3").get_object(Bucket="auth", Key="obj")
    assert error_code(bad.value) == "SignatureDoesNotMatch"


class _StreamingAuth(S3SigV4Auth):
    """botocore's signer, declaring an aws-chunked payload (the seed)."""

    def payload(self, request: Any) -> str:
        return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def _chunked_put(cluster: RunningCluster, key: str, pieces: list[bytes], tamper: int | None = None
                 ) -> requests.Response:
    from proxy.s3api.chunked import chunk_signature  # checked against AWS's example in the unit tests
    from proxy.s3api.sigv4 import signing_key
    url = f"{cluster.proxy}/auth/{key}"
    total = sum(map(len, pieces))
    # the encoded length (signed in the seed) does not depend on the signatures' values
    frames = [f"{len(p):x};chunk-signature={'0' * 64}\r\n".encode() + p + b"\r\n" for p in pieces + [b""]]
    length = sum(map(len, frames))
    request = AWSRequest(method="PUT", url=url, headers={
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(total),
        "Content-Length": str(length)})
    _StreamingAuth(Credentials(ACCESS, SECRET), "s3", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    previous = headers["Authorization"].rsplit("Signature=", 1)[1]
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key_bytes = signing_key(SECRET, amz_date[:8], "us-east-1", "s3")
    body = b""
    for index, piece in enumerate(pieces + [b""]):
        previous = chunk_signature(key_bytes, amz_date, scope, previous, piece)
        sent = piece if index != tamper else b"X" + piece[1:]
        body += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    return requests.put(url, data=body, headers=headers, timeout=30)


def test_aws_chunked_upload(cluster: RunningCluster, s3: Any) -> None:
    pieces = [b"a" * 65536, b"b" * 70000, b"c" * 10]
    done = _chunked_put(cluster, "chunked", pieces)
    assert done.status_code == 200, done.text
    got = s3.get_object(Bucket="auth", Key="chunked")
    assert got["Body"].read() == b"".join(pieces)
    assert "ContentEncoding" not in got  # aws-chunked is the transfer's, not the object's
    tampered = _chunked_put(cluster, "chunked-bad", pieces, tamper=2)
    assert tampered.status_code == 403 and _code(tampered) == "SignatureDoesNotMatch"
    assert call(cluster, "HEAD", "auth/chunked-bad").status_code == 404


def test_xml_body_read_to_its_end(cluster: RunningCluster, s3: Any) -> None:
    """A DeleteObjects document that reaches the proxy in two pieces is
    read whole (``content.read(n)`` alone gave the first piece: MalformedXML)."""
    s3.put_object(Bucket="auth", Key="split-1", Body=b"1")
    body = ("<Delete>" + "".join(f"<Object><Key>split-{n}</Key></Object>" for n in range(1, 40))
            + "</Delete>").encode()
    url = f"{cluster.proxy}/auth?delete"
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Length": str(len(body))})
    S3SigV4Auth(Credentials(ACCESS, SECRET), "s3", "us-east-1").add_auth(request)
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
    try:
        connection.putrequest("POST", "/auth?delete", skip_host="host" in request.headers,
                              skip_accept_encoding=True)
        for name, value in request.headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(body[:100])
        time.sleep(0.3)  # so that the proxy has the first piece alone (no timing is asserted)
        connection.send(body[100:])
        answer = connection.getresponse()
        text = answer.read().decode()
    finally:
        connection.close()
    assert answer.status == 200, text
    assert "<Key>split-1</Key>" in text and "<Key>split-39</Key>" in text
    assert call(cluster, "HEAD", "auth/split-1").status_code == 404
