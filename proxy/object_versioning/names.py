"""Pure: how versions are named, and what a container's versioning is.

A versioned container ``c`` keeps its versions in the hidden container
``\\x00versions\\x00c`` of the same account; version ``v`` of object ``o``
is ``\\x00o\\x00<~v>`` there, ``~v`` the inverted timestamp (the largest
timestamp minus ``v``), so that a listing shows an object's newest version
first. A version id is the timestamp of the write that made it, in its
internal form; ``null`` names the object written while versioning was off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from martlet.config import is_true
from martlet.errors import BadRequest
from martlet.reserved import get_reserved_name, is_reserved, split_reserved_name
from martlet.timestamp import MAX_SECONDS, PRECISION, Timestamp

DELETE_MARKER = "application/x-deleted;swift_versions_deleted=1"
CLIENT_ENABLED = "X-Versions-Enabled"
SYSMETA_ENABLED = "X-Container-Sysmeta-Versions-Enabled"
SYSMETA_CONTAINER = "X-Container-Sysmeta-Versions-Container"
# On the link in the primary container: "this link is the current version".
SYSMETA_SYMLINK = "X-Object-Sysmeta-Versions-Symlink"
NULL = "null"
_MAX_TICKS = round(MAX_SECONDS / PRECISION)


def versions_container(container: str) -> str:
    return get_reserved_name("versions", container)


def primary_of(versions: str) -> str | None:
    """The container whose versions ``versions`` holds, or None."""
    try:
        parts = split_reserved_name(versions)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 and parts[0] == "versions" else None


def invert(stamp: Timestamp) -> Timestamp:
    """``~stamp``: later times give smaller values (no offset kept)."""
    return Timestamp(_MAX_TICKS - stamp.ticks)


def version_id(stamp: Timestamp | str) -> str:
    """The version id of a write stamped ``stamp`` (its offset dropped)."""
    parsed = Timestamp.parse(stamp)
    return Timestamp(parsed.ticks).internal


def version_object(obj: str, version: str) -> str:
    """The name of version ``version`` of ``obj`` in the versions container."""
    return get_reserved_name(obj, invert(Timestamp.parse(version)).internal)


def version_prefix(obj: str) -> str:
    """Before every version name of ``obj``, a prefix of each of them."""
    return get_reserved_name(obj, "")


def parse_version_object(name: str) -> tuple[str, str | None]:
    """(object name, version id) of a version's name; (name, None) when it
    is no version name."""
    try:
        parts = split_reserved_name(name)
        if len(parts) != 2:
            raise ValueError(name)
        return parts[0], invert(Timestamp.parse(parts[1])).internal
    except (ValueError, BadRequest):
        return name, None


def check_version(value: str, allow_null: bool = True) -> str:
    """A client's ``version-id``: ``null`` or a timestamp; 400 otherwise."""
    if value == NULL and allow_null:
        return value
    try:
        Timestamp.parse(value)
    except BadRequest:
        raise BadRequest("Invalid version parameter") from None
    return value


@dataclass(frozen=True)
class Versioning:
    """A container's versioning, from its system metadata: the versions
    container (empty: never versioned) and whether new writes are versioned."""

    container: str
    enabled: bool

    @property
    def ever(self) -> bool:
        return bool(self.container)


# A container never versioned (or one whose info could not be read).
NEVER = Versioning("", False)


def versioning_of(sysmeta: Mapping[str, str]) -> Versioning:
    """``sysmeta``: a container's system metadata, lower-case names without
    the ``x-container-sysmeta-`` prefix (``ContainerInfo.sysmeta``)."""
    lowered = {k.lower(): v for k, v in sysmeta.items()}
    container = unquote(lowered.get("versions-container", "")).split("/")[0]
    return Versioning(container, is_true(lowered.get("versions-enabled")))


def split_v1_path(path: str) -> tuple[str, str, str] | None:
    """(account, container, object) of ``/v1/<a>/<c>/<o>``, quoted; None
    for another path. (Not ``proxy.constraints.split_swift_path``, which
    refuses the reserved names these paths hold.)"""
    parts = unquote(path).split("/", 4)
    if len(parts) != 5 or parts[0] != "" or not parts[4]:
        return None
    return parts[2], parts[3], parts[4]


def location_in(location: str, account: str, versions: str) -> str | None:
    """The version object a link's location (``/v1/<a>/<c>/<o>``, quoted)
    names in ``versions`` of ``account``; None when it points elsewhere."""
    split = split_v1_path(location)
    return split[2] if split is not None and split[:2] == (account, versions) else None


def target_in(target: str, versions: str) -> str | None:
    """Like ``location_in`` for a link's ``<container>/<object>`` target."""
    container, _, obj = unquote(target).partition("/")
    return obj if container == versions and is_reserved(obj) else None
