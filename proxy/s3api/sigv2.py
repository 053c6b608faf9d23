"""AWS Signature Version 2 (``Authorization: AWS <key>:<signature>``, or
a presigned query of ``AWSAccessKeyId``, ``Expires``, ``Signature``), as
S3 still accepts it and boto3 presigns by default: HMAC-SHA1, base64, of

    <method>\\n<Content-MD5>\\n<Content-Type>\\n<Date or Expires>\\n
    <x-amz-* headers, lower-cased, sorted, name:value\\n each><resource>

where the resource is the path as sent (``/<bucket>`` first when the
bucket is in the Host) and the sub-resources of the query S3 names,
sorted. Pure functions; the comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from proxy.s3api.errors import S3Error

# The query parameters that are part of the signed resource.
SUB_RESOURCES = frozenset({
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory", "lifecycle",
    "location", "logging", "metrics", "notification", "object-lock", "partNumber", "policy", "replication",
    "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires", "restore", "select",
    "select-type", "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website",
})


@dataclass(frozen=True)
class SignedV2:
    access_key: str
    signature: str
    presigned: bool
    expires: int = 0  # epoch seconds, presigned only


def parse_v2_header(value: str) -> SignedV2:
    key, sep, signature = value[len("AWS "):].strip().rpartition(":")
    if not sep or not key or not signature:
        raise S3Error("AccessDenied", "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")
    return SignedV2(key, signature, False)


def parse_v2_query(query: dict[str, str]) -> SignedV2:
    key, signature, expires = query.get("AWSAccessKeyId"), query.get("Signature"), query.get("Expires", "")
    if not key or not signature or not expires:
        raise S3Error("AccessDenied", "Query-string authentication requires the Signature, Expires and "
                      "AWSAccessKeyId parameters")
    if not expires.isdigit() or int(expires) >= 2 ** 32:
        raise S3Error("AccessDenied", f"Invalid date (should be seconds since epoch): {expires}")
    return SignedV2(key, signature, True, int(expires))


def canonical_resource(raw_path: str, raw_query: str, virtual_bucket: str | None) -> str:
    resource = (f"/{virtual_bucket}" if virtual_bucket else "") + raw_path
    params = []
    for item in raw_query.split("&"):
        name, sep, value = item.partition("=")
        if name in SUB_RESOURCES:
            params.append((name, f"{name}={unquote(value)}" if sep else name))
    if params:
        resource += "?" + "&".join(text for _, text in sorted(params, key=lambda p: p[0]))
    return resource


def string_to_sign(method: str, headers: Sequence[tuple[str, str]], resource: str, expires: str | None) -> str:
    """The text a V2 signature signs (``expires``: a presigned URL's)."""
    lowered: dict[str, list[str]] = {}
    for name, value in headers:
        lowered.setdefault(name.lower(), []).append(value.strip())
    first = {name: values[0] for name, values in lowered.items()}
    if expires is not None:
        date = expires
    elif "x-amz-date" in first:
        date = ""  # x-amz-date signs among the amz headers instead
    else:
        date = first.get("date", "")
    amz = [f"{name}:{','.join(values)}\n" for name, values in sorted(lowered.items()) if name.startswith("x-amz-")]
    return "\n".join([method, first.get("content-md5", ""), first.get("content-type", ""), date]) + "\n" \
        + "".join(amz) + resource


def sign_v2(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def check_v2_time(signed: SignedV2, headers: Sequence[tuple[str, str]], now: float, max_skew: float) -> None:
    if signed.presigned:
        if now > signed.expires:
            raise S3Error("AccessDenied", "Request has expired")
        return
    values = {name.lower(): value for name, value in headers}
    text = values.get("x-amz-date") or values.get("date")
    try:
        when = parsedate_to_datetime(text or "").timestamp()
    except (TypeError, ValueError, IndexError):
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header") from None
    if abs(now - when) > max_skew:
        raise S3Error("RequestTimeTooSkewed", extra={"MaxAllowedSkewMilliseconds": str(int(max_skew * 1000))})
