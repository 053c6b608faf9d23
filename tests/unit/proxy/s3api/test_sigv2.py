"""Signature V2 as S3 checks it, against botocore's V2 signers."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from proxy.s3api import sigv2
from proxy.s3api.errors import S3Error

ACCESS, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_aws_documented_example() -> None:
    """AWS's V2 example: GET /photos/puppy.jpg of bucket awsexamplebucket1."""
    text = sigv2.string_to_sign("GET", [("Host", "awsexamplebucket1.us-west-1.s3.amazonaws.com"),
                                        ("Date", "Tue, 27 Mar 2007 19:36:42 +0000")],
                                sigv2.canonical_resource("/photos/puppy.jpg", "", "awsexamplebucket1"), None)
    assert text == "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
    assert sigv2.sign_v2(SECRET, text) == "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="


@pytest.mark.parametrize("path,query", [("/bkt/a%20b/%C3%A9", "uploadId=abc&partNumber=2"),
                                        ("/bkt", "acl"), ("/bkt/k", "")])
def test_header_signature_matches_botocore(path: str, query: str) -> None:
    url = f"http://127.0.0.1:8080{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method="PUT", url=url, data=b"x",
                         headers={"Content-Type": "text/plain", "x-amz-meta-b": "2", "X-Amz-Meta-A": " 1 "})
    HmacV1Auth(Credentials(ACCESS, SECRET)).add_auth(request)
    signed = sigv2.parse_v2_header(request.headers["Authorization"])
    assert signed.access_key == ACCESS
    text = sigv2.string_to_sign("PUT", list(request.headers.items()), sigv2.canonical_resource(path, query, None),
                                None)
    assert sigv2.sign_v2(SECRET, text) == signed.signature


def test_presigned_matches_botocore() -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:8080/bkt/obj?response-content-type=text%2Fplain")
    HmacV1QueryAuth(Credentials(ACCESS, SECRET), expires=300).add_auth(request)
    split = urlsplit(request.url)
    query = dict(item.split("=", 1) for item in split.query.split("&"))
    signed = sigv2.parse_v2_query({k: unquote(v) for k, v in query.items()})
    text = sigv2.string_to_sign("GET", [], sigv2.canonical_resource(split.path, split.query, None),
                                str(signed.expires))
    assert sigv2.sign_v2(SECRET, text) == signed.signature
    sigv2.check_v2_time(signed, [], signed.expires - 1, 900)
    with pytest.raises(S3Error) as expired:
        sigv2.check_v2_time(signed, [], signed.expires + 1, 900)
    assert expired.value.code == "AccessDenied"


def test_skew_and_malformed() -> None:
    signed = sigv2.SignedV2(ACCESS, "sig", False)
    with pytest.raises(S3Error) as skewed:
        sigv2.check_v2_time(signed, [("Date", "Tue, 27 Mar 2007 19:36:42 +0000")], 1.8e9, 900)
    assert skewed.value.code == "RequestTimeTooSkewed"
    with pytest.raises(S3Error):
        sigv2.parse_v2_header("AWS nocolon")
    with pytest.raises(S3Error):
        sigv2.parse_v2_query({"AWSAccessKeyId": "a", "Signature": "s", "Expires": "soon"})
