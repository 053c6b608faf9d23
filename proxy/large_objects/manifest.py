"""Static large object manifests, pure: parsing, validation, ETags, the
stored and raw JSON forms. No I/O.

Three shapes of one manifest, as in Swift:

* the **PUT form** a client sends with ``?multipart-manifest=put``: a JSON
  list of ``{"path", "etag", "size_bytes", "range"}`` (``etag``,
  ``size_bytes`` and ``range`` optional) or ``{"data": <base64>}``;
* the **stored form** kept as the manifest object's body and returned by
  ``?multipart-manifest=get``: ``{"name", "bytes", "hash", "content_type",
  "last_modified"}`` plus ``"range"`` and ``"sub_slo": true`` when they
  apply, or ``{"data"}``;
* the **raw form** (``&format=raw``), the PUT form again, so that it can
  be PUT back.

The large object's ETag is the md5 of its segments' ETags concatenated
(``<etag>:<first>-<last>;`` for a ranged segment, md5 of the bytes for a
data segment); clients get it quoted, since it is not the md5 of the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from martlet.errors import BadRequest, EntityTooLarge
from martlet.ranges import ByteRange, RangeSpec, parse_range_header, resolve

TOO_SMALL = "Too small; each segment must be at least 1 byte."
_PUT_KEYS = frozenset({"path", "etag", "size_bytes", "range"})
_PATH_FORM = "path does not refer to an object. Path must be of the form /container/object."


@dataclass(frozen=True)
class SegmentRequest:
    """One item of a PUT manifest, its shape checked but not its object."""

    index: int
    path: str | None = None  # "/container/object"
    etag: str | None = None
    size_bytes: int | None = None
    range: RangeSpec | None = None
    data: bytes | None = None
    # The path as the client wrote it: its error reports name it so (Swift's).
    sent_path: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Segment:
    """One item of a stored manifest.

    ``size`` is the whole segment object's size (for a sub-SLO, its total
    length); ``range`` the part of it that belongs to the large object.
    """

    name: str | None  # "/container/object"; None for a data segment
    size: int
    etag: str  # the object's ETag; a sub-SLO's is its SLO ETag
    range: ByteRange | None = None
    sub_slo: bool = False
    content_type: str = ""
    last_modified: str = ""
    data: bytes | None = None

    @property
    def length(self) -> int:
        """Bytes this segment contributes to the large object."""
        return self.range.length if self.range is not None else self.size

    @property
    def offset(self) -> int:
        """Where the contributed bytes start inside the segment object."""
        return self.range.start if self.range is not None else 0

    def split_name(self) -> tuple[str, str]:
        """(container, object) of ``name``."""
        assert self.name is not None
        container, _, obj = self.name.lstrip("/").partition("/")
        return container, obj


@dataclass(frozen=True)
class SegmentHead:
    """What a HEAD of a segment object told the proxy (for validation)."""

    status: int
    size: int = 0
    etag: str = ""
    content_type: str = ""
    last_modified: str = ""  # ISO 8601, as in listings
    is_slo: bool = False
    is_dlo: bool = False
    slo_depth: int = 0  # nesting depth of a sub-SLO (1 = plain segments)


def normalize_etag(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip().strip('"').lower() or None


def split_segment_path(path: str) -> tuple[str, str] | None:
    """(container, object) of ``/container/object``; None when not of that form."""
    container, sep, obj = path.lstrip("/").partition("/")
    if not container or not sep or not obj:
        return None
    return container, obj


def _load_list(body: bytes, error: Callable[[str], Exception], not_json: str, not_list: str) -> list[Any]:
    """The JSON list a manifest body holds; ``error`` (400 for a client's
    manifest, CorruptManifest for a stored one) when it holds none."""
    try:
        items = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: nesting deeper than Python's stack (200,000 "[").
        raise error(not_json) from None
    if not isinstance(items, list):
        raise error(not_list)
    return items


def _decode_data(value: Any) -> bytes | None:
    """The bytes of a data item's base64 text; None when it is not that."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _data_item(data: bytes) -> dict[str, Any]:
    """A data segment as both the stored and the PUT form write it."""
    return {"data": base64.b64encode(data).decode("ascii")}


def _range_text(byte_range: ByteRange) -> str:
    """``first-last``, as a manifest item's ``range`` and the SLO ETag name it."""
    return f"{byte_range.start}-{byte_range.end}"


def _parse_item(index: int, item: Any) -> tuple[SegmentRequest | None, list[str]]:
    where = f"Index {index}"
    if not isinstance(item, dict):
        return None, [f"{where}: not a JSON object"]
    if "data" in item:
        extra = sorted(set(item) - {"data"})
        if extra:
            return None, [f"{where}: extraneous keys {', '.join(extra)}"]
        data = _decode_data(item["data"])
        if data is None:
            return None, [f"{where}: invalid data"]
        if not data:
            return None, [f"{where}: too small; each segment must be at least 1 byte."]
        return SegmentRequest(index, data=data), []
    errors: list[str] = []
    extra = sorted(set(item) - _PUT_KEYS)
    if extra:
        errors.append(f"{where}: extraneous keys {', '.join(extra)}")
    path = item.get("path")
    if not isinstance(path, str) or split_segment_path(path) is None:
        errors.append(f"{where}: {_PATH_FORM}")
    etag = item.get("etag")
    if etag is not None and not isinstance(etag, str):
        errors.append(f"{where}: etag must be a string or null")
    size = item.get("size_bytes")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        errors.append(f"{where}: invalid size_bytes")
    spec = None
    if item.get("range") is not None:
        text = item["range"]
        specs = parse_range_header(f"bytes={text}") if isinstance(text, str) else None
        if specs is None:
            errors.append(f"{where}: invalid range")
        elif len(specs) != 1:
            errors.append(f"{where}: multiple ranges (only one allowed)")
        else:
            spec = specs[0]
    if errors:
        return None, errors
    assert isinstance(path, str)
    return SegmentRequest(index, path="/" + path.lstrip("/"), sent_path=path, etag=normalize_etag(etag),
                          size_bytes=size, range=spec), []


def parse_put_manifest(body: bytes, max_segments: int) -> list[SegmentRequest]:
    """The items of a ``multipart-manifest=put`` body, or 400 listing every
    malformed item (413 when there are more than ``max_segments``)."""
    items = _load_list(body, BadRequest, "Manifest must be valid JSON.", "Manifest must be a list.")
    if not items:
        raise BadRequest("Manifest must have at least one segment.")
    if len(items) > max_segments:
        raise EntityTooLarge(f"Number of segments must be <= {max_segments}")
    parsed: list[SegmentRequest] = []
    errors: list[str] = []
    for index, item in enumerate(items):
        segment, problems = _parse_item(index, item)
        errors.extend(problems)
        if segment is not None:
            parsed.append(segment)
    if errors:
        raise BadRequest("\n".join(errors))
    return parsed


def check_segment(request: SegmentRequest, head: SegmentHead, manifest_path: str,
                  max_depth: int, allow_empty: bool = False) -> tuple[Segment | None, list[str]]:
    """A segment of the manifest to store, or the problems that refuse it.

    Swift's words: "404 Not Found", "Etag Mismatch", "Size Mismatch",
    "Unsatisfiable Range", the too-small rule (but for the last segment,
    ``allow_empty``, as Swift's SLO: an S3 upload of one empty part); plus the manifests that
    cannot be segments here (itself, a DLO, an SLO nested too deep).
    """
    assert request.path is not None
    if request.path == manifest_path:
        return None, ["Manifest cannot reference itself"]
    if not 200 <= head.status < 300:
        reasons = {404: "404 Not Found", 401: "401 Unauthorized", 403: "403 Forbidden",
                   409: "Segment is a broken manifest"}
        return None, [reasons.get(head.status, f"{head.status} Error")]
    problems: list[str] = []
    if head.is_dlo:
        problems.append("Segment is a dynamic large object manifest")
    if head.is_slo and head.slo_depth + 1 > max_depth:
        problems.append(f"Too deeply nested (max depth {max_depth})")
    byte_range = None
    if request.range is not None:
        byte_range = resolve(request.range, head.size)
        if byte_range is None:
            problems.append("Unsatisfiable Range")
        elif byte_range.start == 0 and byte_range.end == head.size - 1:
            byte_range = None  # the whole object: no range to remember
    length = byte_range.length if byte_range is not None else head.size
    if length < 1 and not allow_empty and "Unsatisfiable Range" not in problems:
        problems.append(TOO_SMALL)
    if request.size_bytes is not None and request.size_bytes != head.size:
        problems.append("Size Mismatch")
    if request.etag is not None and request.etag != normalize_etag(head.etag):
        problems.append("Etag Mismatch")
    if problems:
        return None, problems
    return Segment(request.path, head.size, normalize_etag(head.etag) or "", byte_range, head.is_slo,
                   head.content_type, head.last_modified), []


def data_segment(data: bytes) -> Segment:
    return Segment(None, len(data), hashlib.md5(data).hexdigest(), data=data)


def slo_etag(segments: Sequence[Segment]) -> str:
    """The large object's ETag (hex, unquoted)."""
    digest = hashlib.md5()
    for segment in segments:
        if segment.range is not None:
            digest.update(f"{segment.etag}:{_range_text(segment.range)};".encode("ascii"))
        else:
            digest.update(segment.etag.encode("ascii"))
    return digest.hexdigest()


def total_length(segments: Sequence[Segment]) -> int:
    return sum(segment.length for segment in segments)


def _stored_item(segment: Segment) -> dict[str, Any]:
    if segment.data is not None:
        return _data_item(segment.data)
    item: dict[str, Any] = {
        "name": segment.name, "bytes": segment.size, "hash": segment.etag,
        "content_type": segment.content_type, "last_modified": segment.last_modified,
    }
    if segment.range is not None:
        item["range"] = _range_text(segment.range)
    if segment.sub_slo:
        item["sub_slo"] = True
    return item


def stored_json(segments: Sequence[Segment]) -> bytes:
    return json.dumps([_stored_item(s) for s in segments]).encode("utf-8")


def raw_json(segments: Sequence[Segment]) -> bytes:
    """The PUT form of a stored manifest (``format=raw``)."""
    items: list[dict[str, Any]] = []
    for segment in segments:
        if segment.data is not None:
            items.append(_data_item(segment.data))
            continue
        item: dict[str, Any] = {"path": segment.name, "etag": segment.etag, "size_bytes": segment.size}
        if segment.range is not None:
            item["range"] = _range_text(segment.range)
        items.append(item)
    return json.dumps(items).encode("utf-8")


class CorruptManifest(Exception):
    """A stored manifest that does not parse: the object cannot be served."""


def _stored_segment(item: Any) -> Segment:
    if not isinstance(item, dict):
        raise CorruptManifest("manifest item is not an object")
    if "data" in item:
        data = _decode_data(item["data"])
        if data is None:
            raise CorruptManifest("bad data segment")
        return data_segment(data)
    name, size, etag = item.get("name"), item.get("bytes"), item.get("hash")
    if not isinstance(name, str) or split_segment_path(name) is None:
        raise CorruptManifest("bad segment name")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(etag, str):
        raise CorruptManifest("bad segment size or hash")
    byte_range = None
    if item.get("range") is not None:
        specs = parse_range_header(f"bytes={item['range']}")
        byte_range = resolve(specs[0], size) if specs and len(specs) == 1 else None
        if byte_range is None:
            raise CorruptManifest("bad segment range")
    return Segment(name, size, etag, byte_range, bool(item.get("sub_slo")),
                   str(item.get("content_type", "")), str(item.get("last_modified", "")))


def parse_stored_manifest(body: bytes) -> list[Segment]:
    items = _load_list(body, CorruptManifest, "manifest is not JSON", "manifest is not a list")
    return [_stored_segment(item) for item in items]


def problems_body(problems: Sequence[tuple[str, str]], accept: str | None) -> tuple[str, bytes]:
    """(content type, body) of the 400 answering a manifest with bad segments.

    Plain text by default (``Errors:`` then ``<quoted path>, <reason>`` per
    line, as Swift), JSON when the client accepts it.
    """
    quoted = [[quote(path), reason] for path, reason in problems]
    if accept and "application/json" in accept:
        return "application/json", json.dumps({"Errors": quoted}).encode("utf-8")
    lines = ["Errors:"] + [f"{path}, {reason}" for path, reason in quoted]
    return "text/plain", ("\n".join(lines) + "\n").encode("utf-8")
