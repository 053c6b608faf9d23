"""Multipart uploads' rules, as pure functions: names in the segments
container, part numbers, the CompleteMultipartUpload document, the checks
S3 makes of it, the SLO manifest it becomes, and S3's multipart ETag.

Layout (Swift's s3api's): for bucket ``b``, container ``b+segments``
holds, per upload of key ``k``, a marker object ``k/<upload id>`` (the
upload's content type and metadata) and its parts ``k/<upload id>/<n>``.
Completing stores an SLO manifest at ``b/k`` over the parts, which stay
as its segments; the marker is then deleted.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proxy.s3api.errors import S3Error
from proxy.s3api.xml_doc import child_text, children, parse

SEGMENTS_SUFFIX = "+segments"
S3_ETAG_SYSMETA = "X-Object-Sysmeta-S3api-Etag"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_COMPLETE_BODY = 2 * 1024 * 1024


def segments_container(bucket: str) -> str:
    return bucket + SEGMENTS_SUFFIX


def new_upload_id() -> str:
    return uuid.uuid4().hex


def check_upload_id(upload_id: str) -> None:
    if not _UPLOAD_ID.match(upload_id):
        raise S3Error("NoSuchUpload", extra={"UploadId": upload_id})


def marker_name(key: str, upload_id: str) -> str:
    return f"{key}/{upload_id}"


def part_name(key: str, upload_id: str, number: int) -> str:
    return f"{key}/{upload_id}/{number}"


def split_marker(name: str) -> tuple[str, str] | None:
    """(key, upload id) of a marker object's name, or None for a part."""
    key, _, upload_id = name.rpartition("/")
    return (key, upload_id) if key and _UPLOAD_ID.match(upload_id) else None


def part_number(text: str | None, maximum: int) -> int:
    """A ``partNumber`` between 1 and ``maximum``."""
    if text is None or not text.isdigit() or not 1 <= int(text) <= maximum:
        raise S3Error("InvalidArgument", f"Part number must be an integer between 1 and {maximum}, inclusive",
                      extra={"ArgumentName": "partNumber", "ArgumentValue": text or ""})
    return int(text)


@dataclass(frozen=True)
class StoredPart:
    number: int
    etag: str  # hex md5, unquoted
    size: int
    last_modified: str


def stored_parts(entries: Sequence[Mapping[str, Any]], key: str, upload_id: str) -> list[StoredPart]:
    """The parts of an upload among a segments listing, by part number."""
    prefix = marker_name(key, upload_id) + "/"
    parts = []
    for entry in entries:
        name = str(entry.get("name", ""))
        rest = name[len(prefix):]
        if name.startswith(prefix) and rest.isdigit():
            parts.append(StoredPart(int(rest), str(entry["hash"]), int(entry["bytes"]), str(entry["last_modified"])))
    return sorted(parts, key=lambda p: p.number)


def requested_parts(body: bytes) -> list[tuple[int, str]]:
    """(part number, etag) of a CompleteMultipartUpload document, in its
    order; InvalidPartOrder unless ascending, MalformedXML if unreadable."""
    root = parse(body, "CompleteMultipartUpload")
    parts: list[tuple[int, str]] = []
    for node in children(root, "Part"):
        number, etag = child_text(node, "PartNumber"), child_text(node, "ETag")
        if number is None or etag is None or not number.strip().isdigit():
            raise S3Error("MalformedXML")
        parts.append((int(number), etag.strip().strip('"')))
    if not parts:
        raise S3Error("MalformedXML")
    numbers = [n for n, _ in parts]
    if any(b <= a for a, b in zip(numbers, numbers[1:])):
        raise S3Error("InvalidPartOrder")
    return parts


def check_parts(requested: Sequence[tuple[int, str]], stored: Sequence[StoredPart],
                min_size: int) -> list[StoredPart]:
    """The stored parts the request names: each must exist with its ETag
    (InvalidPart), and each but the last be at least ``min_size`` bytes
    (EntityTooSmall)."""
    by_number = {p.number: p for p in stored}
    chosen = []
    for number, etag in requested:
        part = by_number.get(number)
        if part is None or part.etag != etag.lower():
            raise S3Error("InvalidPart", extra={"PartNumber": str(number), "ETag": etag})
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < min_size:
            raise S3Error("EntityTooSmall", extra={"ProposedSize": str(part.size), "MinSizeAllowed": str(min_size),
                                                   "PartNumber": str(part.number), "ETag": part.etag})
    return chosen


def multipart_etag(parts: Sequence[StoredPart]) -> str:
    """S3's ETag of a completed upload: md5 of the parts' binary md5s, ``-N``."""
    digest = hashlib.md5(b"".join(binascii.unhexlify(p.etag) for p in parts)).hexdigest()
    return f"{digest}-{len(parts)}"


def slo_manifest(bucket: str, key: str, upload_id: str, parts: Sequence[StoredPart]) -> bytes:
    """The SLO manifest (``?multipart-manifest=put`` body) over the parts."""
    container = segments_container(bucket)
    return json.dumps([{"path": f"/{container}/{part_name(key, upload_id, p.number)}", "etag": p.etag,
                        "size_bytes": p.size} for p in parts]).encode("utf-8")


def copy_range(value: str | None) -> str | None:
    """``x-amz-copy-source-range: bytes=first-last`` as a Range header."""
    if value is None:
        return None
    match = re.match(r"^bytes=(\d+)-(\d+)$", value.strip())
    if match is None or int(match.group(1)) > int(match.group(2)):
        raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                      "bytes=first-last where first and last are the zero-based offsets of the first and last "
                      "bytes to copy", extra={"ArgumentName": "x-amz-copy-source-range", "ArgumentValue": value})
    return f"bytes={match.group(1)}-{match.group(2)}"
