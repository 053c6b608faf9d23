"""Checks of an S3 request's headers that come before any operation, as
Swift's s3api makes them when it reads the request: what it refuses here
never reaches the Swift side."""

from __future__ import annotations

from collections.abc import Mapping

from proxy.s3api.errors import S3Error

PUT_CONDITIONS = ("If-Match", "If-Modified-Since", "If-Unmodified-Since")


def check_put_conditions(method: str, headers: Mapping[str, str]) -> None:
    """Conditional PUTs are ``NotImplemented`` (501), as in Swift's s3api,
    but for ``If-None-Match: *`` (create only), which the object servers
    judge (412 when the object exists). A conditional that would be
    ignored must not store anything."""
    if method == "PUT":
        check_write_conditions(headers, "Conditional object PUTs are not supported.")


def check_write_conditions(headers: Mapping[str, str], message: str | None = None) -> None:
    """The rule of ``check_put_conditions`` for any write (a multipart
    completion's POST too): only ``If-None-Match: *``, else NotImplemented."""
    if any(name in headers for name in PUT_CONDITIONS) or headers.get("If-None-Match", "*") != "*":
        raise S3Error("NotImplemented", message)
