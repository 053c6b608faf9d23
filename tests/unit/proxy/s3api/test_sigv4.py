"""SigV4 as S3 checks it, against AWS's published S3 examples (which no
implementation can fake) and against botocore's signer."""

from __future__ import annotations

import hashlib

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from proxy.s3api import sigv4
from proxy.s3api.errors import S3Error

ACCESS = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "examplebucket.s3.amazonaws.com"
EMPTY = sigv4.EMPTY_SHA256


def _check(method: str, raw_path: str, raw_query: str, headers: dict[str, str], signature: str) -> None:
    authorization = headers["Authorization"]
    lowered = {k.lower(): v for k, v in headers.items()}
    signed = sigv4.parse_authorization(authorization, lowered)
    expected = sigv4.expected_signature(signed, SECRET, method, raw_path, sigv4.split_raw_query(raw_query),
                                        list(headers.items()))
    assert expected == signature
    assert sigv4.signature_matches(expected, signed.signature)


def _auth(signed_headers: str, signature: str) -> str:
    return (f"AWS4-HMAC-SHA256 Credential={ACCESS}/20130524/us-east-1/s3/aws4_request, "
            f"SignedHeaders={signed_headers}, Signature={signature}")


def test_aws_example_get_object() -> None:
    sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    _check("GET", "/test.txt", "", {
        "Host": HOST, "Range": "bytes=0-9", "x-amz-content-sha256": EMPTY, "x-amz-date": "20130524T000000Z",
        "Authorization": _auth("host;range;x-amz-content-sha256;x-amz-date", sig)}, sig)


def test_aws_example_put_object() -> None:
    body = b"Welcome to Amazon S3."
    digest = hashlib.sha256(body).hexdigest()
    assert digest == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    sig = "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    _check("PUT", "/test%24file.text", "", {
        "Host": HOST, "Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY", "x-amz-content-sha256": digest,
        "Authorization": _auth("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", sig)}, sig)


def test_aws_example_get_lifecycle() -> None:
    sig = "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
    _check("GET", "/", "lifecycle", {
        "Host": HOST, "x-amz-date": "20130524T000000Z", "x-amz-content-sha256": EMPTY,
        "Authorization": _auth("host;x-amz-content-sha256;x-amz-date", sig)}, sig)


def test_aws_example_list_objects() -> None:
    sig = "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    _check("GET", "/", "max-keys=2&prefix=J", {
        "Host": HOST, "x-amz-date": "20130524T000000Z", "x-amz-content-sha256": EMPTY,
        "Authorization": _auth("host;x-amz-content-sha256;x-amz-date", sig)}, sig)


def test_aws_example_presigned_url() -> None:
    sig = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    raw_query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1"
                 "%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                 f"&X-Amz-Signature={sig}")
    pairs = sigv4.split_raw_query(raw_query)
    signed = sigv4.parse_presigned(dict(pairs))
    assert signed.presigned and signed.expires == 86400
    assert sigv4.expected_signature(signed, SECRET, "GET", "/test.txt", pairs, [("Host", HOST)]) == sig
    start = sigv4.parse_amz_date("20130524T000000Z").timestamp()
    sigv4.check_time(signed, start + 86399, 900)
    with pytest.raises(S3Error) as expired:
        sigv4.check_time(signed, start + 86401, 900)
    assert expired.value.code == "AccessDenied"


def test_signing_key_of_aws_example() -> None:
    key = sigv4.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


@pytest.mark.parametrize("path,query", [
    ("/bucket/dir/%C3%A9t%C3%A9%20file%2B1.txt", "uploads="),
    ("/bucket/a//b/./c~", "list-type=2&prefix=a%20b&delimiter=%2F&continuation-token=YWJj%3D"),
])
def test_matches_botocore(path: str, query: str) -> None:
    url = f"http://127.0.0.1:8080{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method="PUT", url=url, data=b"payload", headers={"x-amz-meta-colour": "  blue   sky "})
    S3SigV4Auth(Credentials(ACCESS, SECRET), "s3", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    headers["Host"] = "127.0.0.1:8080"
    lowered = {k.lower(): v for k, v in headers.items()}
    signed = sigv4.parse_authorization(headers["Authorization"], lowered)
    assert signed.payload_hash == hashlib.sha256(b"payload").hexdigest()
    expected = sigv4.expected_signature(signed, SECRET, "PUT", path, sigv4.split_raw_query(query),
                                        list(headers.items()))
    assert expected == signed.signature
    wrong = sigv4.expected_signature(signed, "not-the-secret", "PUT", path, sigv4.split_raw_query(query),
                                     list(headers.items()))
    assert not sigv4.signature_matches(wrong, signed.signature)


def test_clock_skew() -> None:
    signed = sigv4.SignedRequest(ACCESS, "20130524", "us-east-1", "s3", ("host",), "x", "20130524T000000Z", EMPTY)
    start = sigv4.parse_amz_date("20130524T000000Z").timestamp()
    sigv4.check_time(signed, start + 899, 900)
    sigv4.check_time(signed, start - 899, 900)
    with pytest.raises(S3Error) as skewed:
        sigv4.check_time(signed, start + 901, 900)
    assert skewed.value.code == "RequestTimeTooSkewed" and skewed.value.status == 403


def test_amz_day() -> None:
    """The scope date an x-amz-date names: its day, cached or not; a date
    that is no x-amz-date is AccessDenied, every time it is read."""
    assert sigv4.amz_day("20130524T235959Z") == "20130524"
    assert sigv4.amz_day("20130524T235959Z") == "20130524"
    for _ in range(2):
        with pytest.raises(S3Error) as bad:
            sigv4.amz_day("20130524")
        assert bad.value.code == "AccessDenied"


@pytest.mark.parametrize("authorization,code", [
    ("AWS4-HMAC-SHA256 Credential=a/20130524/us-east-1/s3/aws4_request, SignedHeaders=host", "AuthorizationHeaderMalformed"),
    ("AWS4-HMAC-SHA256 Credential=a/20130524/us-east-1/s3, SignedHeaders=host, Signature=x", "AuthorizationHeaderMalformed"),
    ("AWS4-HMAC-SHA256 Credential=a/20130525/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x", "AuthorizationHeaderMalformed"),
    ("AWS4-HMAC-SHA256 Credential=a/20130524/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=x", "AuthorizationHeaderMalformed"),
    ("AWS4-HMAC-SHA256 Credential=a/20130524/us-east-1/s3/aws4_request, SignedHeaders=date, Signature=x", "AccessDenied"),
    ("AWS4-HMAC-SHA1 Credential=a/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x", "AccessDenied"),
])
def test_malformed_authorization(authorization: str, code: str) -> None:
    with pytest.raises(S3Error) as bad:
        sigv4.parse_authorization(authorization, {"x-amz-date": "20130524T000000Z", "x-amz-content-sha256": EMPTY})
    assert bad.value.code == code


def test_payload_hash_forms() -> None:
    for good in (EMPTY, sigv4.UNSIGNED_PAYLOAD, sigv4.STREAMING_PAYLOAD):
        sigv4.check_payload_hash(good)
    with pytest.raises(S3Error):
        sigv4.check_payload_hash("abc")
