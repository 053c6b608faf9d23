"""Container and account listings: parameters, the page walk, rendering.

Pure: no SQLite and no HTTP in here. The database brokers supply a
``fetch(RowQuery) -> iterable of rows`` function that answers one range query on the
``(deleted, name)`` index; ``build_listing`` turns the client's parameters
into such queries, folding names that contain the delimiter into ``subdir``
entries and skipping past each folded range in one step, so a page costs a
handful of index range scans whatever the container's size.

Names compare as Python strings, which order by code point; UTF-8 preserves
code point order, so this is the same order as SQLite's BINARY collation on
the UTF-8 text it stores (and Swift's listing order).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Union
from xml.sax.saxutils import escape, quoteattr

from martlet.accept import TEXT_FORMATS, best_match
from martlet.config import is_true
from martlet.content_type import split_swift_bytes
from martlet.errors import NotAcceptable, PreconditionFailed
from martlet.reserved import RESERVED_END
from martlet.timestamp import Timestamp

LISTING_LIMIT = 10_000  # default and maximum page size, as Swift's
MAX_CODE_POINT = 0x10FFFF
SURROGATES = range(0xD800, 0xE000)


@dataclass(frozen=True)
class ObjectRecord:
    """A live object row of a container."""

    name: str
    created_at: str  # internal timestamp of its newest change (PUT or POST): last_modified
    size: int
    content_type: str
    etag: str


@dataclass(frozen=True)
class ContainerRecord:
    """A live container row of an account."""

    name: str
    object_count: int
    bytes_used: int
    put_timestamp: str
    storage_policy_index: int = 0


@dataclass(frozen=True)
class Subdir:
    """Names sharing ``name`` up to and including the delimiter."""

    name: str


Record = Union[ObjectRecord, ContainerRecord]
Entry = Union[ObjectRecord, ContainerRecord, Subdir]


@dataclass(frozen=True)
class ListingParams:
    prefix: str = ""
    delimiter: str = ""
    marker: str = ""
    end_marker: str = ""
    limit: int = LISTING_LIMIT
    reverse: bool = False
    path: str | None = None
    # Reserved names (``martlet.reserved``) are listed only when the proxy asks.
    allow_reserved: bool = False


@dataclass(frozen=True)
class RowQuery:
    """One index range scan: live names in (lower, upper), in one direction."""

    lower: str  # "" means unbounded
    lower_inclusive: bool
    upper: str | None  # exclusive; None means unbounded
    reverse: bool
    limit: int


# Returns the rows lazily (e.g. a generator over a cursor): a delimiter walk
# may stop after the first row of a query.
Fetch = Callable[[RowQuery], Iterable[Record]]


def parse_listing_params(query: Mapping[str, str], allow_reserved: bool = False) -> ListingParams:
    """The listing parameters of a GET, checked as Swift checks them;
    reserved names are listed (and may be asked for) with ``allow_reserved``."""
    for key in ("prefix", "delimiter", "marker", "end_marker", "path"):
        value = query.get(key)
        # A marker may hold a NUL (the name just after another), as in Swift.
        has_nul = (value is not None and "\x00" in value and key not in ("marker", "end_marker")
                   and not allow_reserved)
        if value is not None and (has_nul or len(value.encode("utf-8", "surrogatepass")) > 1024):
            raise PreconditionFailed(f"bad {key} parameter")
        if value is not None:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise PreconditionFailed(f"invalid UTF-8 in {key}") from None
    limit = LISTING_LIMIT
    given = query.get("limit", "")
    if given.isascii() and given.isdigit():  # '\u00b2'.isdigit() is true, yet int() refuses it
        limit = int(given)
        if limit > LISTING_LIMIT:
            raise PreconditionFailed(f"Maximum limit is {LISTING_LIMIT}")
    return ListingParams(
        prefix=query.get("prefix", ""),
        delimiter=query.get("delimiter", ""),
        marker=query.get("marker", ""),
        end_marker=query.get("end_marker", ""),
        limit=limit,
        reverse=is_true(query.get("reverse")),
        path=query.get("path"),
        allow_reserved=allow_reserved,
    )


def increment(text: str) -> str | None:
    """The smallest string greater than every string starting with ``text``.

    None when there is none (``text`` is all U+10FFFF). Surrogates are
    skipped: they cannot be encoded as UTF-8, so no stored name has one.
    """
    chars = list(text)
    while chars:
        code = ord(chars.pop()) + 1
        if code in SURROGATES:
            code = SURROGATES.stop
        if code <= MAX_CODE_POINT:
            return "".join(chars) + chr(code)
    return None


def build_listing(fetch: Fetch, params: ListingParams) -> list[Entry]:
    """One page of a listing, walking the index as Swift's broker does.

    In reverse, ``marker`` bounds from above and ``end_marker`` from below,
    so a client pages backwards by passing the last name it saw as marker.
    With ``path``, only the direct children of that folder are listed.
    """
    prefix, delimiter, path = params.prefix, params.delimiter, params.path
    if path is not None:
        prefix = path = (path.rstrip("/") + "/") if path else ""
        delimiter = "/"
    marker, end_marker = params.marker, params.end_marker
    if params.reverse:
        marker, end_marker = end_marker, marker
    end_prefix = increment(prefix) if prefix else None
    orig_marker = marker
    force_gte = False
    results: list[Entry] = []
    while len(results) < params.limit:
        query = _row_query(prefix, end_prefix, marker, end_marker, force_gte, params, len(results))
        force_gte = False
        rows = fetch(query)
        if not delimiter:
            results.extend(rows)
            return results
        # Rows are read lazily: after a subdir only its first row was needed.
        consumed = 0
        for row in rows:
            consumed += 1
            name = row.name
            if params.reverse:
                end_marker = name
            else:
                marker = name
            end = name.find(delimiter, len(prefix))
            if path is not None and name == path:
                continue  # the folder's own marker object is not its child
            if end >= 0 and (path is None or len(name) > end + len(delimiter)):
                dir_name = name[: end + len(delimiter)]
                if params.reverse:
                    end_marker = dir_name
                else:
                    # Everything starting with dir_name sorts below this
                    # bound, and the bound itself may be a real name.
                    marker = increment(dir_name) or ""
                    force_gte = True
                if path is None and dir_name != orig_marker:
                    results.append(Subdir(dir_name))
                break
            results.append(row)
            if len(results) >= params.limit:
                break
        else:
            if consumed < query.limit:
                break  # the range is exhausted
    return results


def _row_query(
    prefix: str,
    end_prefix: str | None,
    marker: str,
    end_marker: str,
    force_gte: bool,
    params: ListingParams,
    have: int,
) -> RowQuery:
    upper: str | None
    if end_marker and (not prefix or end_prefix is None or end_marker < end_prefix):
        upper = end_marker
    else:
        upper = end_prefix
    if force_gte:
        lower, inclusive = marker, True
    elif marker and (not prefix or marker >= prefix):
        lower, inclusive = marker, False
    else:
        lower, inclusive = prefix, True
    if not params.allow_reserved and lower < RESERVED_END:
        lower, inclusive = RESERVED_END, True  # reserved names sort below it: hidden
    return RowQuery(lower, inclusive, upper, params.reverse, params.limit - have)


# -- rendering --------------------------------------------------------------

FORMAT_TYPES = {
    "json": "application/json",
    "xml": "application/xml",
    "plain": "text/plain",
}


def listing_content_type(format_param: str | None, accept: str | None) -> str:
    """The media type of a listing: ``format=`` first, then ``Accept``.

    Raises NotAcceptable (406) when Accept rules out every format we offer.
    """
    if format_param:
        return FORMAT_TYPES.get(format_param.strip().lower(), "text/plain")
    best = best_match(accept, TEXT_FORMATS)
    if best is None:
        raise NotAcceptable("no acceptable listing format")
    return best


def last_modified(timestamp: str) -> str:
    """Swift's listing date: ISO 8601, UTC, no zone, always microseconds."""
    ticks = Timestamp.parse(timestamp).ticks
    whole, frac = divmod(ticks, 100_000)
    moment = datetime.fromtimestamp(whole, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{frac * 10:06d}"


def _json_entry(entry: Entry, policy_names: Mapping[int, str]) -> dict[str, object]:
    if isinstance(entry, Subdir):
        return {"subdir": entry.name}
    if isinstance(entry, ObjectRecord):
        return _object_fields(entry)
    fields: dict[str, object] = {
        "name": entry.name,
        "count": entry.object_count,
        "bytes": entry.bytes_used,
        "last_modified": last_modified(entry.put_timestamp),
    }
    # As Swift: the container's storage policy by name, left out when this
    # node does not know the index (clients must cope without it).
    policy = policy_names.get(entry.storage_policy_index)
    if policy is not None:
        fields["storage_policy"] = policy
    return fields


# The ETag parameters a row may carry that listings show as fields.
_ROW_PARAMS = frozenset({"slo_etag", "symlink_target", "symlink_target_account", "symlink_target_etag",
                         "symlink_target_bytes"})


def split_etag_params(etag: str) -> tuple[str, dict[str, str]]:
    """``"<md5>; key=value; ..."`` (the row of an SLO manifest or a
    symlink) -> the ETag without the known parameters, and those."""
    if ";" not in etag:
        return etag, {}
    base, *params = etag.split(";")
    found: dict[str, str] = {}
    kept = []
    for param in params:
        key, sep, value = param.partition("=")
        if sep and key.strip().lower() in _ROW_PARAMS:
            found[key.strip().lower()] = value.strip().strip('"')
        else:
            kept.append(param)
    return ";".join([base.strip(), *kept]), found


def split_slo_etag(etag: str) -> tuple[str, str | None]:
    """``"<md5>; slo_etag=<etag>"`` (an SLO manifest's row) -> both parts."""
    base, params = split_etag_params(etag)
    return base, params.get("slo_etag")


def _object_fields(entry: ObjectRecord) -> dict[str, object]:
    """An object row as listed. An SLO manifest's row shows its large
    object: ``swift_bytes`` as the bytes (the row's own size stays the
    manifest's, which is what the container's stats count, as Swift's)
    and the SLO ETag as ``slo_etag`` beside the manifest's own hash. A
    symlink's row shows its target as ``symlink_path`` (a static link's
    also its ``symlink_etag`` and ``symlink_bytes``)."""
    content_type, swift_bytes = split_swift_bytes(entry.content_type)
    etag, params = split_etag_params(entry.etag)
    fields: dict[str, object] = {
        "name": entry.name,
        "hash": etag,
        "bytes": entry.size if swift_bytes is None else swift_bytes,
        "content_type": content_type,
        "last_modified": last_modified(entry.created_at),
    }
    if "slo_etag" in params:
        fields["slo_etag"] = f'"{params["slo_etag"]}"'
    target, account = params.get("symlink_target"), params.get("symlink_target_account")
    if target and account:
        fields["symlink_path"] = f"/v1/{account}/{target}"
        if "symlink_target_etag" in params:
            fields["symlink_etag"] = params["symlink_target_etag"]
            size = params.get("symlink_target_bytes", "")
            fields["symlink_bytes"] = int(size) if size.isdigit() else 0
    return fields


def _xml_entry(entry: Entry, policy_names: Mapping[int, str]) -> str:
    if isinstance(entry, Subdir):
        return f"<subdir name={quoteattr(entry.name)}><name>{escape(entry.name)}</name></subdir>"
    fields = _json_entry(entry, policy_names)
    tag = "object" if isinstance(entry, ObjectRecord) else "container"
    inner = "".join(f"<{key}>{escape(str(value))}</{key}>" for key, value in fields.items())
    return f"<{tag}>{inner}</{tag}>"


def render_listing(entries: Sequence[Entry], content_type: str, kind: str, name: str,
                   policy_names: Mapping[int, str] | None = None) -> bytes:
    """The body of a listing; ``kind`` is "container" or "account" (the XML
    root). ``policy_names`` (index -> name) names an account's containers'
    storage policies."""
    names = policy_names or {}
    if content_type == "application/json":
        return json.dumps([_json_entry(e, names) for e in entries], ensure_ascii=False).encode("utf-8")
    if content_type in ("application/xml", "text/xml"):
        body = "".join(_xml_entry(e, names) for e in entries)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<{kind} name={quoteattr(name)}>{body}</{kind}>"
        ).encode("utf-8")
    return "".join(f"{e.name}\n" for e in entries).encode("utf-8")
