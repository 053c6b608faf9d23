"""Who signed an S3 request: the signature rebuilt from the request as
received and compared with the one sent (``sigv4``), the clock checked,
and the signer made a proxy ``Identity`` of its ``[auth]`` user."""

from __future__ import annotations

import time
from dataclasses import replace
from collections.abc import Iterable, Mapping
from aiohttp import web

from proxy.auth import Identity, UserTable
from proxy.config import S3apiSection
from proxy.s3api import sigv2, sigv4
from proxy.s3api.credentials import find_credential
from proxy.s3api.errors import S3Error
from proxy.s3api.target import virtual_bucket

# How long the identity a signature gives lasts: the request's own life.
IDENTITY_LIFE = 900
# What the operations need of a signature: how its payload is to be checked.
SignedPayload = sigv4.SignedRequest
# A V2 signature's: no payload hash.
UNSIGNED = sigv4.SignedRequest("", "", "", "s3", (), "", "", sigv4.UNSIGNED_PAYLOAD)


def joined_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers by lower-case name, a repeated one's values joined with
    ``,`` as a WSGI server gives them to Swift's s3api: a request with a
    blank ``x-amz-date`` beside the signer's own then has no valid date
    (``AccessDenied``), as there."""
    out: dict[str, str] = {}
    for name, value in items:
        low = name.lower()
        out[low] = f"{out[low]},{value}" if low in out else value
    return out


def authenticate(request: web.Request, users: UserTable, access_keys: Mapping[str, tuple[str, str]],
                 section: S3apiSection, now: float | None = None) -> tuple[Identity, SignedPayload]:
    """The identity of a valid signature, or the S3 error that says why not."""
    now = time.time() if now is None else now
    headers = joined_headers(request.headers.items())
    authorization = request.headers.get("Authorization")
    query_pairs = sigv4.split_raw_query(request.rel_url.raw_query_string)
    query = dict(query_pairs)
    if (authorization is not None and authorization.startswith("AWS ")) or (
            authorization is None and "AWSAccessKeyId" in query):
        return _authenticate_v2(request, users, access_keys, section, now, query)
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
    key = sigv4.signing_key(credential.secret, signed.date, signed.region, signed.service)
    return Identity(user.account, user.user, user.groups, int(now) + IDENTITY_LIFE), replace(signed, signing_key=key)


def _authenticate_v2(request: web.Request, users: UserTable, access_keys: Mapping[str, tuple[str, str]],
                     section: S3apiSection, now: float, query: dict[str, str]) -> tuple[Identity, SignedPayload]:
    """A Signature V2 request: its payload is never signed (a Content-MD5
    is checked by the object servers)."""
    authorization = request.headers.get("Authorization")
    signed = sigv2.parse_v2_header(authorization) if authorization else sigv2.parse_v2_query(query)
    credential = find_credential(signed.access_key, users, access_keys)
    if credential is None:
        raise S3Error("InvalidAccessKeyId", extra={"AWSAccessKeyId": signed.access_key})
    headers = list(request.headers.items())
    bucket = virtual_bucket(request.host, section.storage_domain)
    resource = sigv2.canonical_resource(request.rel_url.raw_path, request.rel_url.raw_query_string, bucket)
    text = sigv2.string_to_sign(request.method, headers, resource, str(signed.expires) if signed.presigned else None)
    sigv2.check_v2_time(signed, headers, now, section.max_clock_skew)  # a request without a date: AccessDenied
    if not sigv4.signature_matches(sigv2.sign_v2(credential.secret, text), signed.signature):
        raise S3Error("SignatureDoesNotMatch", extra={"AWSAccessKeyId": signed.access_key})
    user = users[credential.user]
    return Identity(user.account, user.user, user.groups, int(now) + IDENTITY_LIFE), UNSIGNED
