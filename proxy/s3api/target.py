"""Which requests are S3's, and the bucket and key an S3 request names.

``looks_like_s3`` is all a Swift request pays for the S3 API: a prefix
test of its ``Authorization`` header and a substring test of its raw
query. ``split_target`` reads the bucket from the Host (virtual-hosted
style, ``<bucket>.<storage_domain>``) or from the path's first name
(path style), and the key from the rest of the path, decoded once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from proxy.s3api.errors import S3Error

MAX_KEY_LENGTH = 1024
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def looks_like_s3(authorization: str | None, raw_query: str) -> bool:
    """Is this request signed the AWS way (header, or a presigned query
    of Signature V4 or V2)?"""
    if authorization is not None and authorization.startswith("AWS"):
        return True
    return "X-Amz-" in raw_query or "AWSAccessKeyId=" in raw_query


@dataclass(frozen=True)
class S3Target:
    """The bucket (None: the service, ListBuckets) and key of a request."""

    bucket: str | None
    key: str | None

    @property
    def resource(self) -> str:
        """The path an error document names."""
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}" + (f"/{self.key}" if self.key is not None else "")


def split_target(raw_path: str, host: str | None, storage_domains: tuple[str, ...]) -> S3Target:
    """The bucket and key of ``raw_path`` (query excluded) on ``host``."""
    path = _decode(raw_path)
    bucket = virtual_bucket(host, storage_domains)
    if bucket is None:
        name, _, rest = path.lstrip("/").partition("/") if path.startswith("/") else ("", "", "")
        if not name:
            return S3Target(None, None)
        bucket = name
        key = rest if rest else None
    else:
        key = path[1:] or None
    if key is not None and len(key.encode("utf-8", "surrogateescape")) > MAX_KEY_LENGTH:
        raise S3Error("KeyTooLongError")
    return S3Target(bucket, key)


def _decode(raw_path: str) -> str:
    try:
        text = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI") from None
    if "\x00" in text:
        raise S3Error("InvalidURI")
    return text


def virtual_bucket(host: str | None, storage_domains: tuple[str, ...]) -> str | None:
    """The bucket a virtual-hosted style Host names, or None."""
    if not host or not storage_domains:
        return None
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    for domain in storage_domains:
        suffix = "." + domain.lstrip(".")
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def is_bucket_name(name: str) -> bool:
    """S3's DNS-compatible bucket names: 3 to 63 of a-z 0-9 . -, starting
    and ending with a letter or digit, no ``..``, not an IP address (a
    container name has no ``/``, which these exclude too)."""
    return bool(_BUCKET.match(name)) and not (".." in name or _IP.match(name) or ".-" in name or "-." in name)


def check_bucket_name(bucket: str) -> None:
    if not is_bucket_name(bucket):
        raise S3Error("InvalidBucketName", extra={"BucketName": bucket})
