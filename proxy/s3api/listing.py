"""ListBuckets, ListObjects (v1) and ListObjectsV2 from Swift's JSON
listings: the query's rules and the answer's XML, as pure functions.

A listing asks the container for ``max-keys + 1`` entries: the extra one
only says whether the answer is truncated. Swift counts a ``subdir``
(a common prefix, with a delimiter) as one entry, as S3 counts a
CommonPrefix as one key. V2's continuation token is the last name
returned, base64-encoded: opaque to the client, a plain marker here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from proxy.object_versioning.names import DELETE_MARKER
from proxy.s3api.errors import S3Error
from proxy.s3api.xml_doc import Node, document

DEFAULT_MAX_KEYS = 1000
OWNER_ID = "owner"


@dataclass(frozen=True)
class ListQuery:
    """What a ListObjects request asks, checked."""

    v2: bool
    prefix: str
    delimiter: str
    marker: str  # v1 marker, or v2's start point (token or start-after)
    max_keys: int
    url_encoded: bool
    continuation_token: str | None = None
    start_after: str | None = None
    fetch_owner: bool = False

    def swift_query(self) -> dict[str, str]:
        """The container GET that answers it."""
        query = {"format": "json", "limit": str(self.max_keys + 1)}
        for name, value in (("prefix", self.prefix), ("delimiter", self.delimiter), ("marker", self.marker)):
            if value:
                query[name] = value
        return query


def list_query(query: Mapping[str, str], limit: int) -> ListQuery:
    """The parameters of a ListObjects(V2) query; ``limit`` caps max-keys."""
    text = query.get("max-keys", str(DEFAULT_MAX_KEYS))
    try:
        max_keys = int(text)
    except ValueError:
        raise S3Error("InvalidArgument", "Provided max-keys not an integer or within integer range",
                      extra={"ArgumentName": "max-keys", "ArgumentValue": text}) from None
    if max_keys < 0:
        raise S3Error("InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647",
                      extra={"ArgumentName": "max-keys", "ArgumentValue": text})
    encoding = query.get("encoding-type")
    if encoding is not None and encoding != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      extra={"ArgumentName": "encoding-type", "ArgumentValue": encoding})
    v2 = query.get("list-type") == "2"
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    max_keys, url_encoded = min(max_keys, limit), encoding == "url"
    if not v2:
        return ListQuery(False, prefix, delimiter, query.get("marker", ""), max_keys, url_encoded)
    token = query.get("continuation-token")
    start_after = query.get("start-after")
    marker = decode_token(token) if token is not None else (start_after or "")
    return ListQuery(True, prefix, delimiter, marker, max_keys, url_encoded, continuation_token=token,
                     start_after=start_after, fetch_owner=query.get("fetch-owner") == "true")


def encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      extra={"ArgumentName": "continuation-token"}) from None


def s3_time(swift_time: str) -> str:
    """``2024-01-02T03:04:05.123450`` (a Swift listing) as S3's
    ``2024-01-02T03:04:06.000Z``: whole seconds, rounded up as Swift's
    s3api does, so a listing's time is never before the object's
    ``Last-Modified`` (which has whole seconds)."""
    base, _, fraction = swift_time.partition(".")
    if fraction.strip("0"):
        # fromisoformat, not strptime: this runs for each row of a listing,
        # and strptime costs about 15 times as much.
        base = (datetime.fromisoformat(base) + timedelta(seconds=1)).isoformat()
    return f"{base}.000Z"


def s3_etag(entry: Mapping[str, Any]) -> str:
    """The quoted ETag S3 shows for a listing entry: a multipart object's
    ``md5-of-md5s-N`` when its manifest recorded one (``; s3_etag=``)."""
    value = str(entry.get("hash", ""))
    base, _, params = value.partition(";")
    for param in params.split(";"):
        name, _, text = param.strip().partition("=")
        if name == "s3_etag":
            return f'"{text}"'
    return f'"{base.strip()}"'


def _name(text: str, q: ListQuery) -> str:
    return quote(text, safe="/") if q.url_encoded else text


def _page(entries: Sequence[Mapping[str, Any]], q: ListQuery) -> tuple[list[Mapping[str, Any]], list[Node], bool, str]:
    """Of up to ``max_keys + 1`` Swift listing entries: the objects shown,
    the CommonPrefixes shown, whether the listing goes on, and the last
    name shown (where the next page starts)."""
    shown = entries[: q.max_keys]
    objects = [entry for entry in shown if "subdir" not in entry]
    prefixes: list[Node] = [("CommonPrefixes", [("Prefix", _name(str(entry["subdir"]), q))])
                            for entry in shown if "subdir" in entry]
    last = str(shown[-1].get("subdir") or shown[-1].get("name")) if shown else ""
    return objects, prefixes, len(entries) > q.max_keys, last


def objects_document(bucket: str, q: ListQuery, entries: Sequence[Mapping[str, Any]], owner: str) -> bytes:
    """The ListBucketResult of a ListObjects(V2) from up to
    ``max_keys + 1`` Swift listing entries."""
    objects, prefixes, truncated, last = _page(entries, q)
    contents: list[Node] = []
    for entry in objects:
        item: list[Node] = [("Key", _name(str(entry["name"]), q)),
                            ("LastModified", s3_time(str(entry["last_modified"]))),
                            ("ETag", s3_etag(entry)), ("Size", int(entry["bytes"]))]
        if not q.v2 or q.fetch_owner:
            item.append(("Owner", [("ID", owner), ("DisplayName", owner)]))
        item.append(("StorageClass", "STANDARD"))
        contents.append(("Contents", item))
    head: list[Node] = [("Name", bucket), ("Prefix", _name(q.prefix, q))]
    if q.v2:
        head += [("StartAfter", _name(q.start_after, q) if q.start_after is not None else None),
                 ("ContinuationToken", q.continuation_token),
                 ("NextContinuationToken", encode_token(last) if truncated else None),
                 ("KeyCount", len(objects) + len(prefixes))]
    else:
        head += [("Marker", _name(q.marker, q)),
                 ("NextMarker", _name(last, q) if truncated and q.delimiter else None)]
    head += [("MaxKeys", q.max_keys), ("Delimiter", _name(q.delimiter, q) if q.delimiter else None),
             ("EncodingType", "url" if q.url_encoded else None), ("IsTruncated", truncated)]
    return document("ListBucketResult", head + contents + prefixes)


def buckets_document(containers: Sequence[Mapping[str, Any]], owner: str) -> bytes:
    """ListAllMyBucketsResult from an account's JSON listing."""
    buckets: list[Node] = []
    for entry in containers:
        created = s3_time(str(entry.get("last_modified", "2009-02-03T16:45:09.000000")))
        buckets.append(("Bucket", [("Name", str(entry["name"])), ("CreationDate", created)]))
    return document("ListAllMyBucketsResult",
                    [("Owner", [("ID", owner), ("DisplayName", owner)]), ("Buckets", buckets)])


def versions_document(bucket: str, q: ListQuery, entries: Sequence[Mapping[str, Any]], owner: str,
                      version_id_marker: str | None = None) -> bytes:
    """ListVersionsResult from up to ``max_keys + 1`` rows of a
    ``?versions`` listing (object versioning's: ``version_id``,
    ``is_latest``, delete markers by their content type); a row without a
    ``version_id`` (a bucket never versioned) is its object's one, latest
    ``null`` version. ``q.marker`` is the key marker."""
    objects, prefixes, truncated, _ = _page(entries, q)
    owned: Node = ("Owner", [("ID", owner), ("DisplayName", owner)])
    versions: list[Node] = []
    for entry in objects:
        head: list[Node] = [("Key", _name(str(entry["name"]), q)), ("VersionId", str(entry.get("version_id") or "null")),
                            ("IsLatest", bool(entry.get("is_latest", True))),
                            ("LastModified", s3_time(str(entry["last_modified"])))]
        if entry.get("content_type") == DELETE_MARKER:
            versions.append(("DeleteMarker", head + [owned]))
        else:
            versions.append(("Version", head + [("ETag", s3_etag(entry)), ("Size", int(entry["bytes"])), owned,
                                                ("StorageClass", "STANDARD")]))
    head = [("Name", bucket), ("Prefix", _name(q.prefix, q)), ("KeyMarker", _name(q.marker, q)),
            ("VersionIdMarker", version_id_marker or "")]
    if truncated:
        last = entries[: q.max_keys][-1]
        if "subdir" in last:
            head += [("NextKeyMarker", _name(str(last["subdir"]), q)), ("NextVersionIdMarker", "null")]
        else:
            head += [("NextKeyMarker", _name(str(last["name"]), q)),
                     ("NextVersionIdMarker", str(last.get("version_id") or "null"))]
    head += [("MaxKeys", q.max_keys), ("Delimiter", _name(q.delimiter, q)),
             ("EncodingType", "url" if q.url_encoded else None), ("IsTruncated", truncated)]
    return document("ListVersionsResult", head + versions + prefixes)
