"""Headers <-> object metadata, pure: no I/O.

Which headers an object keeps follows Swift: user metadata
(``X-Object-Meta-*``), system metadata (``X-Object-Sysmeta-*``, set by the
proxy on PUT only), transient system metadata, and a fixed set of "POST-able"
headers. A POST replaces the user metadata, the transient sysmeta and the
POST-able headers as a whole; the body's ETag, length, sysmeta and
``X-Static-Large-Object`` stay with the ``.data``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from martlet.conditional import http_date, last_modified_seconds
from martlet.errors import BadRequest, ServiceUnavailable
from martlet.http import header_text
from martlet.policies import POLICY_INDEX_HEADER, StoragePolicies, parse_index
from martlet.timestamp import Timestamp, clamp_delete_at, parse_integer
from storage.diskfile import ObjectState
from storage.metadata import PUT_ONLY_HEADERS, SYSMETA_PREFIX, USER_META_PREFIX, ObjectMetadata

TRANSIENT_PREFIX = "x-object-transient-sysmeta-"
# Headers a POST may set; lower case.
POSTABLE_HEADERS = frozenset(
    {
        "content-disposition",
        "content-encoding",
        "content-language",
        "cache-control",
        "expires",
        "x-object-manifest",
        "x-robots-tag",
    }
)
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def request_policy(headers: Mapping[str, str], policies: StoragePolicies) -> int:
    """The storage policy an object request is for: its
    ``X-Backend-Storage-Policy-Index``, 0 when absent (a sender from before
    policies). A malformed index is the sender's mistake (400); one this
    node does not know is 503, as Swift answers: this node's martlet.conf is
    behind the sender's, and another replica may serve the request."""
    try:
        index = parse_index(headers.get(POLICY_INDEX_HEADER))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if index is None:
        return 0
    if policies.get(index) is None:
        raise ServiceUnavailable(f"No policy with index {index}")
    return index


def user_meta_from(headers: Mapping[str, str]) -> dict[str, str]:
    """``X-Object-Meta-Color: red`` -> ``{"Color": "red"}`` (case as sent;
    bytes that are not UTF-8 become U+FFFD, ``martlet.http.header_text``)."""
    return {
        key[len(USER_META_PREFIX) :]: header_text(value)
        for key, value in headers.items()
        if key.lower().startswith(USER_META_PREFIX) and len(key) > len(USER_META_PREFIX)
    }


def sys_meta_from(headers: Mapping[str, str], *, put: bool) -> dict[str, str]:
    """The persisted non-user headers of a PUT (``put=True``) or a POST."""
    kept: dict[str, str] = {}
    for key, value in headers.items():
        lower = key.lower()
        if lower in POSTABLE_HEADERS or lower.startswith(TRANSIENT_PREFIX):
            kept[key] = header_text(value)
        elif put and (lower in PUT_ONLY_HEADERS or lower.startswith(SYSMETA_PREFIX)):
            kept[key] = header_text(value)
    return kept


def parse_delete_at(value: str | None) -> int | None:
    """``X-Delete-At`` as stored: None when absent or empty, 400 when not an
    integer, clamped to what is stored (as the proxy clamps it)."""
    if value is None or value.strip() == "":
        return None
    return clamp_delete_at(parse_integer(value, "X-Delete-At"))


def parse_if_delete_at(value: str | None) -> Timestamp | None:
    """``X-If-Delete-At`` of a DELETE (the expirer's guard): None when
    absent, 400 when not a timestamp."""
    if value is None:
        return None
    try:
        return Timestamp.parse(value.strip())
    except BadRequest:
        raise BadRequest("Bad X-If-Delete-At header value") from None


def request_timestamp(headers: Mapping[str, str]) -> Timestamp:
    """The ``X-Timestamp`` every state-changing backend request must carry."""
    value = headers.get("X-Timestamp")
    if not value:
        raise BadRequest("missing X-Timestamp")
    return Timestamp.parse(value)


def normalize_etag(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip().strip('"').lower()


def is_expired(meta: ObjectMetadata, now: float | None = None) -> bool:
    if meta.delete_at is None:
        return False
    return meta.delete_at <= (time.time() if now is None else now)


def object_headers(state: ObjectState) -> dict[str, str]:
    """The response headers of a GET or HEAD of an existing object."""
    meta = state.metadata
    assert meta is not None and state.data_timestamp is not None
    headers = {
        "Content-Type": meta.content_type or DEFAULT_CONTENT_TYPE,
        "ETag": meta.etag or "",
        "Last-Modified": http_date(last_modified_seconds(meta.timestamp.seconds)),
        "X-Timestamp": meta.timestamp.normal,
        "X-Backend-Timestamp": meta.timestamp.internal,
        "X-Backend-Data-Timestamp": state.data_timestamp.internal,
        "Accept-Ranges": "bytes",
    }
    # Header names as Swift answers them, title-cased (X-Object-Meta-Color
    # for a key sent as x-object-meta-color); stored as sent.
    for key, value in meta.sys_meta.items():
        headers[key.title()] = value
    for key, value in meta.user_meta.items():
        headers[("X-Object-Meta-" + key).title()] = value
    if meta.delete_at is not None:
        headers["X-Delete-At"] = str(meta.delete_at)
    return headers
