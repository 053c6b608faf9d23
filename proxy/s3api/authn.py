"""Who signed an S3 request: the signature rebuilt from the request as
received and compared with the one sent (``sigv4``), the clock checked,
and the signer made a proxy ``Identity`` of its ``[auth]`` user."""

from __future__ import annotations

import time
from collections.abc import Mapping
from aiohttp import web

from proxy.auth import Identity, UserTable
from proxy.config import S3apiSection
from proxy.s3api import sigv4
from proxy.s3api.credentials import find_credential
from proxy.s3api.errors import S3Error

# How long the identity a signature gives lasts: the request's own life.
IDENTITY_LIFE = 900


def authenticate(request: web.Request, users: UserTable, access_keys: Mapping[str, tuple[str, str]],
                 section: S3apiSection, now: float | None = None) -> tuple[Identity, sigv4.SignedRequest]:
    """The identity of a valid signature, or the S3 error that says why not."""
    now = time.time() if now is None else now
    headers = {k.lower(): v for k, v in request.headers.items()}
    authorization = request.headers.get("Authorization")
    query_pairs = sigv4.split_raw_query(request.rel_url.raw_query_string)
    query = dict(query_pairs)
    if authorization is not None and authorization.startswith("AWS "):
        raise S3Error("InvalidRequest", "Signature Version 2 is not supported; sign with AWS4-HMAC-SHA256")
    if authorization is not None:
        signed = sigv4.parse_authorization(authorization, headers)
    else:
        signed = sigv4.parse_presigned(query)
    sigv4.check_payload_hash(signed.payload_hash)
    if signed.region != section.location:
        raise S3Error("AuthorizationHeaderMalformed", f"The authorization header is malformed; the region "
                      f"'{signed.region}' is wrong; expecting '{section.location}'", extra={"Region": section.location})
    credential = find_credential(signed.access_key, users, access_keys)
    if credential is None:
        raise S3Error("InvalidAccessKeyId", extra={"AWSAccessKeyId": signed.access_key})
    expected = sigv4.expected_signature(signed, credential.secret, request.method, request.rel_url.raw_path,
                                        query_pairs, list(request.headers.items()))
    if not sigv4.signature_matches(expected, signed.signature):
        raise S3Error("SignatureDoesNotMatch", extra={"AWSAccessKeyId": signed.access_key})
    sigv4.check_time(signed, now, section.max_clock_skew)
    user = users[credential.user]
    return Identity(user.account, user.user, user.groups, int(now) + IDENTITY_LIFE), signed
