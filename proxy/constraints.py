"""Swift's constraints on names, metadata and bodies, with Swift's statuses.

Pure functions over strings and header mappings, so that every limit is
tested directly and checked once, before any backend is contacted.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

from martlet.errors import BadRequest, EntityTooLarge, LengthRequired, PreconditionFailed
from martlet.swift_path import SwiftPath

MAX_META_NAME_LENGTH = 128
MAX_META_VALUE_LENGTH = 256
MAX_META_COUNT = 90
MAX_META_OVERALL_SIZE = 4096
MAX_HEADER_SIZE = 8192
MAX_OBJECT_NAME_LENGTH = 1024
MAX_CONTAINER_NAME_LENGTH = 256
MAX_ACCOUNT_NAME_LENGTH = 256
CONTAINER_LISTING_LIMIT = 10000
ACCOUNT_LISTING_LIMIT = 10000
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def decode_segment(raw: str) -> str:
    """Percent-decode one raw path piece; 400 for bad UTF-8 or NUL."""
    data = unquote_to_bytes(raw)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("Invalid UTF8 or contains NULL") from None
    if "\x00" in text:
        raise BadRequest("Invalid UTF8 or contains NULL")
    return text


def split_swift_path(raw_path: str) -> tuple[str, SwiftPath]:
    """``/<version>/<account>[/<container>[/<object>]]``, raw (still quoted),
    as its version and the names it decodes to; the object keeps its slashes."""
    path = raw_path.split("?", 1)[0]
    if not path.startswith("/"):
        raise BadRequest("Invalid path")
    version, _, rest = path[1:].partition("/")
    account_raw, _, rest = rest.partition("/")
    container_raw, _, obj_raw = rest.partition("/")
    account = decode_segment(account_raw)
    container = decode_segment(container_raw) if container_raw else None
    obj = decode_segment(obj_raw) if obj_raw else None
    if not account:
        raise BadRequest("Invalid path: no account")
    if container is None and obj_raw:
        raise BadRequest("Invalid path: empty container name")
    check_names(account, container, obj)
    return version, SwiftPath(account, container, obj)


def check_names(account: str, container: str | None, obj: str | None) -> None:
    if len(account.encode()) > MAX_ACCOUNT_NAME_LENGTH:
        raise BadRequest(f"Account name length of {len(account.encode())} longer than {MAX_ACCOUNT_NAME_LENGTH}")
    if container is not None:
        check_container_name(container)
    if obj is not None:
        check_object_name(obj)


def check_container_name(name: str) -> None:
    size = len(name.encode())
    if not name or "/" in name:
        raise BadRequest("Container name may not be empty or contain '/'")
    if size > MAX_CONTAINER_NAME_LENGTH:
        raise BadRequest(f"Container name length of {size} longer than {MAX_CONTAINER_NAME_LENGTH}")


def check_object_name(name: str) -> None:
    size = len(name.encode())
    if size > MAX_OBJECT_NAME_LENGTH:
        raise BadRequest(f"Object name length of {size} longer than {MAX_OBJECT_NAME_LENGTH}")


def meta_prefix(kind: str) -> str:
    """``x-account-meta-``, ``x-container-meta-`` or ``x-object-meta-``."""
    return f"x-{kind}-meta-"


def check_metadata(headers: Mapping[str, str], kind: str) -> None:
    """Swift's limits on user metadata; 400 names the limit that was hit."""
    prefix = meta_prefix(kind)
    count = 0
    total = 0
    for name, value in headers.items():
        lowered = name.lower()
        if not lowered.startswith(prefix):
            continue
        key = name[len(prefix) :]
        if not key:
            raise BadRequest("Metadata name cannot be empty")
        count += 1
        key_size, value_size = len(key.encode()), len(value.encode())
        total += key_size + value_size
        if key_size > MAX_META_NAME_LENGTH:
            raise BadRequest(f"Metadata name too long: {key[:64]!r}; max {MAX_META_NAME_LENGTH}")
        if value_size > MAX_META_VALUE_LENGTH:
            raise BadRequest(f"Metadata value longer than {MAX_META_VALUE_LENGTH}: {key!r}")
        if count > MAX_META_COUNT:
            raise BadRequest(f"Too many metadata items; max {MAX_META_COUNT}")
        if total > MAX_META_OVERALL_SIZE:
            raise BadRequest(f"Total metadata too large; max {MAX_META_OVERALL_SIZE}")


def check_object_body(headers: Mapping[str, str], max_file_size: int) -> int | None:
    """The announced body length (None when chunked), or 400/411/413."""
    encoding = headers.get("Transfer-Encoding", "").lower()
    length_text = headers.get("Content-Length")
    if "chunked" in encoding:
        if length_text is not None:
            raise BadRequest("Content-Length with chunked Transfer-Encoding")
        return None
    if encoding:
        raise BadRequest(f"Unsupported Transfer-Encoding {encoding!r}")
    if length_text is None:
        raise LengthRequired("Missing Content-Length header.")
    if not length_text.strip().isdigit():
        raise BadRequest("Invalid Content-Length header")
    length = int(length_text)
    if length > max_file_size:
        raise EntityTooLarge(f"Your request is too large; max_file_size is {max_file_size}")
    return length


def guess_content_type(name: str, given: str | None, detect: bool = False) -> str:
    """The client's Content-Type, or one guessed from the object's name."""
    if given and not detect:
        return given
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or DEFAULT_CONTENT_TYPE


def resolve_delete_at(headers: Mapping[str, str], now: float) -> str | None:
    """``X-Delete-At`` from ``X-Delete-At`` or ``X-Delete-After``; 400 if bad."""
    after = headers.get("X-Delete-After")
    at = headers.get("X-Delete-At")
    if after is not None:
        try:
            seconds = int(after)
        except ValueError:
            raise BadRequest("Non-integer X-Delete-After") from None
        if seconds < 0:
            raise BadRequest("X-Delete-After in past")
        return str(int(now) + seconds)
    if at is not None:
        try:
            when = int(float(at))
        except ValueError:
            raise BadRequest("Non-integer X-Delete-At") from None
        if when < now:
            raise BadRequest("X-Delete-At in past")
        return str(when)
    return None


def check_listing_limit(query: Mapping[str, str], maximum: int) -> None:
    """Swift answers 412 for a listing ``limit`` above the maximum."""
    limit = query.get("limit")
    if limit is None:
        return
    if not limit.isdigit():
        raise BadRequest("Invalid limit")
    if int(limit) > maximum:
        raise PreconditionFailed(f"Maximum limit is {maximum}")


def check_copy_path(value: str) -> tuple[str, str]:
    """``[/]<container>/<object>`` of X-Copy-From or Destination (quoted)."""
    text = decode_segment(value.lstrip("/"))
    container, _, obj = text.partition("/")
    if not container or not obj:
        raise PreconditionFailed("Destination/X-Copy-From header must be of the form <container name>/<object name>")
    check_container_name(container)
    check_object_name(obj)
    return container, obj
