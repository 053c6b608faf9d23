"""Swift's constraints on names, metadata and bodies, with Swift's statuses.

Pure functions over strings and header mappings, so that every limit is
tested directly and checked once, before any backend is contacted.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Collection, Mapping
from urllib.parse import unquote_to_bytes

from martlet.errors import (
    BadRequest, EntityTooLarge, LengthRequired, MethodNotAllowed, NotFound, PreconditionFailed, Unsupported,
)
from martlet.http import raw_path_bytes
from martlet.limits import MAX_HEADER_SIZE, MAX_META_NAME_LENGTH, MAX_META_VALUE_LENGTH, check_meta_totals
# The limits /info advertises (proxy.info reads them here).
from martlet.limits import MAX_META_COUNT as MAX_META_COUNT, MAX_META_OVERALL_SIZE as MAX_META_OVERALL_SIZE
from martlet.swift_path import SwiftPath
from martlet.timestamp import clamp_delete_at, parse_integer

MAX_OBJECT_NAME_LENGTH = 1024
MAX_CONTAINER_NAME_LENGTH = 256
MAX_ACCOUNT_NAME_LENGTH = 256
CONTAINER_LISTING_LIMIT = 10000
ACCOUNT_LISTING_LIMIT = 10000
DEFAULT_CONTENT_TYPE = "application/octet-stream"
INVALID_UTF8 = "Invalid UTF8 or contains NULL"
API_VERSIONS = ("v1", "v1.0")


def decode_segment(raw: str) -> str:
    """Percent-decode one raw piece of a header (a copy's account or
    path); 400 for bad UTF-8 or NUL."""
    try:
        text = raw_path_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(INVALID_UTF8) from None
    if "\x00" in text:
        raise BadRequest(INVALID_UTF8)
    return text


def split_swift_path(raw_path: str) -> SwiftPath:
    """The names of ``/v1/<account>[/<container>[/<object>]]``, from the raw
    path, with Swift's proxy statuses for every other path: 412 ``Invalid
    UTF8 or contains NULL`` when the decoded path is not UTF-8 or has a NUL;
    404 when a name before the last is empty (``/v1//c/o``, ``/v1/a//o``);
    400 for a version other than v1 or v1.0; 412 ``Bad URL`` when it names
    no account (``/v1``, ``/info asdf``). The path is decoded before it is
    split, as Swift does, so ``%2F`` separates names; the object keeps its
    slashes, and an empty last name is dropped (``/v1/a/c/`` is the
    container)."""
    try:
        text = raw_path_bytes(raw_path.split("?", 1)[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise PreconditionFailed(INVALID_UTF8) from None
    if not text or "\x00" in text:
        raise PreconditionFailed(INVALID_UTF8)
    leading, *names = text.split("/", 4)
    if leading or not names or not names[0] or not all(names[:-1]):
        raise NotFound()
    version, account, container, obj = (names + [""] * 3)[:4]
    if not account:
        raise PreconditionFailed("Bad URL")
    if version not in API_VERSIONS:
        raise BadRequest("Invalid path")
    path = SwiftPath(account, container or None, obj or None)
    check_names(path.account, path.container, path.obj)
    return path


def check_method(method: str, allowed: Collection[str]) -> None:
    """405 with ``Allow`` for a method the target does not serve (checked
    before authorization, as Swift does: it reveals nothing)."""
    if method not in allowed:
        raise MethodNotAllowed(headers={"Allow": ", ".join(sorted(allowed))})


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
    """Swift's limits on the user metadata of one request (sizes in bytes
    as sent); 400 names the limit that was hit. Account and container
    metadata must be UTF-8; an object's may be any bytes."""
    prefix = meta_prefix(kind)
    items: list[tuple[bytes, bytes]] = []
    for name, value in headers.items():
        raw_value = value.encode("utf-8", "surrogateescape")
        if len(raw_value) > MAX_HEADER_SIZE:
            raise BadRequest(f"Header value too long: {name[:MAX_META_NAME_LENGTH]}")
        if not name.lower().startswith(prefix):
            continue
        key = name[len(prefix) :]
        if not key:
            raise BadRequest("Metadata name cannot be empty")
        raw_key = key.encode("utf-8", "surrogateescape")
        if kind != "object" and not (_is_utf8(raw_key) and _is_utf8(raw_value)):
            raise BadRequest("Metadata must be valid UTF-8")
        if len(raw_key) > MAX_META_NAME_LENGTH:
            raise BadRequest(f"Metadata name too long: {prefix}{key}")
        if len(raw_value) > MAX_META_VALUE_LENGTH:
            raise BadRequest(f"Metadata value longer than {MAX_META_VALUE_LENGTH}: {prefix}{key}")
        items.append((raw_key, raw_value))
    check_meta_totals(items)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in raw


def check_object_body(headers: Mapping[str, str], max_file_size: int) -> int | None:
    """The announced body length (None when chunked), or Swift's refusals:
    501 for a Transfer-Encoding that lists several codings (``gzip,
    chunked``), 400 for one other than ``chunked`` or a bad Content-Length,
    411 for neither, 413 above ``max_file_size``."""
    encoding = headers.get("Transfer-Encoding")
    length_text = headers.get("Content-Length")
    if encoding is not None:
        codings = encoding.split(",")
        if len(codings) > 1:
            raise Unsupported("Unsupported Transfer-Coding header value specified in Transfer-Encoding header")
        if codings[0].strip().lower() != "chunked":
            raise BadRequest("Invalid Transfer-Encoding header value")
        if length_text is not None:
            raise BadRequest("Content-Length with chunked Transfer-Encoding")
        return None
    if length_text is None:
        raise LengthRequired("Missing Content-Length header.")
    if not (length_text.isascii() and length_text.strip().isdigit()):
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
    """The ``X-Delete-At`` an object write stores, from ``X-Delete-After``
    (which wins) or ``X-Delete-At``, as Swift's check_delete_headers: 400
    for a value that is not an integer or a time not after ``now``; a
    time beyond ``MAX_DELETE_AT`` is clamped to it."""
    after = headers.get("X-Delete-After")
    if after is not None:
        seconds = parse_integer(after, "X-Delete-After")
        when = clamp_delete_at(int(now) + seconds)
        if when <= now:
            raise BadRequest("X-Delete-After in past")
        return str(when)
    at = headers.get("X-Delete-At")
    if at is not None:
        when = clamp_delete_at(parse_integer(at, "X-Delete-At"))
        if when <= now:
            raise BadRequest("X-Delete-At in past")
        return str(when)
    return None


def listing_limit(query: Mapping[str, str], maximum: int) -> int | None:
    """A listing's ``limit`` as Swift reads it: ignored (None) unless all
    ASCII digits (``'\u00b2'.isdigit()`` is true, yet no int), 412 above
    ``maximum``."""
    limit = query.get("limit", "")
    if not (limit.isascii() and limit.isdigit()):
        return None
    if int(limit) > maximum:
        raise PreconditionFailed(f"Maximum limit is {maximum}")
    return int(limit)


def listing_params(raw_query: str, names: Collection[str]) -> dict[str, str]:
    """The query parameters in ``names``, decoded from the raw query string
    (``+`` is a space, as in forms); 400 for one whose value is not UTF-8.
    Parsed here rather than by aiohttp, which turns bad bytes into U+FFFD
    and so cannot tell them from a real one."""
    params: dict[str, str] = {}
    for item in raw_query.encode("utf-8", "surrogateescape").split(b"&"):
        raw_name, _, raw_value = item.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("utf-8", "replace")
        if name not in names:
            continue
        try:
            params[name] = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f'"{name}" parameter not valid UTF-8') from None
    return params


def check_copy_path(value: str) -> tuple[str, str]:
    """``[/]<container>/<object>`` of X-Copy-From or Destination (quoted)."""
    text = decode_segment(value.lstrip("/"))
    container, _, obj = text.partition("/")
    if not container or not obj:
        raise PreconditionFailed("Destination/X-Copy-From header must be of the form <container name>/<object name>")
    check_container_name(container)
    check_object_name(obj)
    return container, obj
