"""Pure: a versioned container's listings, from its rows and its versions'.

* The plain listing shows a versions link (the current version) as the
  version it links to: its size and ETag, and ``symlink_path`` naming the
  object ``?version-id=`` rather than the hidden version.
* ``?versions`` merges the primary's rows (objects written while
  versioning was off are version ``null``; links are the latest version)
  with the versions container's rows (named back to their objects, each
  with its ``version_id``), newest first within an object; a delete marker
  not superseded by a link is the latest of its object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from martlet.errors import BadRequest
from martlet.reserved import RESERVED, get_reserved_name, split_reserved_name
from martlet.timestamp import Timestamp
from proxy.object_versioning.names import (
    DELETE_MARKER, NULL, parse_version_object, split_v1_path, version_object, version_prefix,
)

Item = dict[str, Any]


def _hash_params(value: str) -> str:
    """The ``; k=v`` parameters of a row's hash (e.g. a manifest's), kept."""
    _, sep, rest = value.partition(";")
    return sep + rest if sep else ""


def show_links(items: list[Item], container: str, versions: str, versions_param: bool) -> list[Item]:
    """The primary's rows, links to versions shown as the versions (in place)."""
    for item in items:
        if not all(k in item for k in ("symlink_path", "symlink_etag", "symlink_bytes")):
            continue
        split = split_v1_path(str(item["symlink_path"]))
        if split is None or split[1] != versions:
            continue
        account, _, target = split
        item["bytes"] = int(item.pop("symlink_bytes"))
        item["version_symlink"] = True
        item["hash"] = str(item.pop("symlink_etag")) + _hash_params(str(item.get("hash", "")))
        name, version = parse_version_object(target)
        if version is not None and not versions_param:
            item["symlink_path"] = f"/v1/{quote(account)}/{quote(container)}/{quote(name)}?version-id={version}"
    return items


def versions_query(params: Mapping[str, str]) -> dict[str, str]:
    """The versions container's listing parameters for a ``?versions``
    listing's: markers and prefix moved into the reserved namespace; 400
    for a ``version_marker`` without a ``marker``, a bad one, or a
    delimiter made of the characters of a version name."""
    out: dict[str, str] = {}
    if "marker" in params:
        marker = params["marker"]
        version_marker = params.get("version_marker")
        if version_marker is None:
            out["marker"] = version_prefix(marker) + ":"  # past all of its versions
        elif version_marker == NULL:
            out["marker"] = version_prefix(marker)  # before all of its versions
        else:
            try:
                stamp = Timestamp.parse(version_marker)
            except BadRequest:
                raise BadRequest("invalid version_marker param") from None
            out["marker"] = version_object(marker, stamp.internal)
    elif "version_marker" in params:
        raise BadRequest("version_marker param requires marker")
    delimiter = params.get("delimiter", "")
    if set(delimiter) & set("0123456789." + RESERVED):
        raise BadRequest("invalid delimiter param")
    if delimiter:
        out["delimiter"] = delimiter
    if "prefix" in params:
        out["prefix"] = get_reserved_name(params["prefix"])
    for key in ("limit", "reverse"):
        if key in params:
            out[key] = params[key]
    return out


def merge(primary: Iterable[Item], versions_rows: Iterable[Item] | None, account: str, versions: str,
          reverse: bool, limit: int) -> list[Item]:
    """The ``?versions`` listing: ``primary`` as ``show_links`` made it
    (with ``versions_param``), ``versions_rows`` the versions container's
    (None when it is missing: then links are all that is known of them)."""
    null_rows: list[Item] = []
    subdirs: set[str] = set()
    current: dict[str, Item] = {}
    latest: set[str] = set()
    for item in primary:
        if "name" not in item:
            subdirs.add(str(item.get("subdir", "")))
        elif item.get("version_symlink"):
            current[unquote(str(item["symlink_path"]))] = item
        else:
            null_rows.append({**item, "version_id": NULL, "is_latest": True})
            latest.add(str(item["name"]))
    version_rows: list[Item] = []
    for item in versions_rows or ():
        if "name" not in item:
            subdirs.add(split_reserved_name(str(item["subdir"]))[0])
            continue
        name, version = parse_version_object(str(item["name"]))
        if version is None:
            continue
        path = f"/v1/{account}/{versions}/{item['name']}"
        if path in current:
            item["is_latest"] = True
            latest.add(name)
            del current[path]
        elif item.get("content_type") == DELETE_MARKER and name not in latest:
            item["is_latest"] = True
            latest.add(name)
        else:
            item["is_latest"] = False
        item["name"] = name
        item["version_id"] = version
        version_rows.append(item)
    broken: list[Item] = []
    for item in current.values():  # links whose versions were not listed
        split = split_v1_path(str(item["symlink_path"]))
        if split is None:
            continue
        name, version = parse_version_object(split[2])
        if version is None:
            continue
        is_latest = versions_rows is not None or name not in latest
        latest.add(name)
        broken.append({"name": name, "is_latest": is_latest, "version_id": version,
                       "content_type": item.get("content_type"), "bytes": item.get("bytes"),
                       "hash": item.get("hash"), "last_modified": item.get("last_modified")})
    rows = [*null_rows, *version_rows, *({"subdir": s} for s in subdirs), *broken]
    rows.sort(key=lambda row: str(row["subdir"] if "subdir" in row else row["name"]), reverse=reverse)
    return rows[:limit]
