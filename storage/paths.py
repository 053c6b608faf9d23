"""Parsing and validating backend request paths (pure: no I/O).

Backend paths are built by ``martlet.backend.backend_path``: every part is
percent-quoted, and an object name keeps its ``/``. This module undoes that
quoting and checks each part, so handlers only ever see names that are valid
UTF-8, within Swift's length limits, and a device name that cannot step
outside the devices root.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from martlet.errors import BadRequest
from martlet.swift_path import SwiftPath

MAX_ACCOUNT_NAME_LENGTH = 256
MAX_CONTAINER_NAME_LENGTH = 256
MAX_OBJECT_NAME_LENGTH = 1024
MAX_PARTITION = (1 << 32) - 1

ENTITY_TYPES = ("account", "container", "object")
# Names the entity a request is for where depth alone does not: row updates
# and REPLICATE of databases.
BACKEND_TYPE_HEADER = "X-Backend-Type"
# Which entity types may address a path of a given depth. Depth alone picks
# the first; ``X-Backend-Type`` may pick another (row updates, see the
# "Backend API contract" in docs/architecture.md).
_TYPES_BY_DEPTH: dict[int, tuple[str, ...]] = {
    3: ("account",),
    4: ("container", "account"),
    5: ("object", "container"),
}


@dataclass(frozen=True)
class EntityPath:
    """``/<device>/<partition>/<account>[/<container>[/<obj>]]``, unquoted:
    where on this node (device, partition), and which names (the
    ``SwiftPath`` the proxy decoded from ``/v1/...`` too)."""

    device: str
    partition: int
    names: SwiftPath

    @property
    def depth(self) -> int:
        """Path parts: 3 for an account, 5 for an object."""
        return 2 + self.names.depth


@dataclass(frozen=True)
class ReplicatePath:
    """``/<device>/<partition>[/<rest>...]`` of a REPLICATE request."""

    device: str
    partition: int
    rest: tuple[str, ...] = ()


def unquote_part(raw: str, what: str, allow_reserved: bool = False) -> str:
    """Percent-decode one path part; it must be non-empty UTF-8 without NUL
    (a NUL only where the proxy allowed reserved names, ``martlet.reserved``)."""
    try:
        text = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"{what} is not valid UTF-8") from None
    if not text:
        raise BadRequest(f"empty {what}")
    if "\x00" in text and not allow_reserved:
        raise BadRequest(f"{what} contains a NUL byte")
    return text


def check_device(name: str) -> str:
    """A device is a plain directory name: never a path, never ``.``/``..``."""
    if not name or "/" in name or name in (".", "..") or "\x00" in name:
        raise BadRequest("invalid device name")
    return name


def parse_partition(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise BadRequest("invalid partition")
    value = int(raw)
    if value > MAX_PARTITION:
        raise BadRequest("invalid partition")
    return value


def _check_length(name: str, limit: int, what: str) -> str:
    if len(name.encode("utf-8")) > limit:
        raise BadRequest(f"{what} longer than {limit} bytes")
    return name


def _split_raw(raw_path: str, max_parts: int) -> list[str]:
    if not raw_path.startswith("/"):
        raise BadRequest("path must start with /")
    return raw_path[1:].split("/", max_parts - 1)


def parse_entity_path(raw_path: str, allow_reserved: bool = False) -> EntityPath:
    """Parse the still-quoted request path (``request.rel_url.raw_path``);
    names may hold NUL only with ``allow_reserved``."""
    parts = _split_raw(raw_path, 5)
    if len(parts) < 3:
        raise BadRequest("path must be /<device>/<partition>/<account>[/<container>[/<object>]]")
    device = check_device(unquote_part(parts[0], "device"))
    partition = parse_partition(unquote_part(parts[1], "partition"))
    account = _check_length(unquote_part(parts[2], "account", allow_reserved), MAX_ACCOUNT_NAME_LENGTH, "account")
    container = obj = None
    if len(parts) > 3:
        container = _check_length(
            unquote_part(parts[3], "container", allow_reserved), MAX_CONTAINER_NAME_LENGTH, "container"
        )
    if len(parts) > 4:
        obj = _check_length(unquote_part(parts[4], "object", allow_reserved), MAX_OBJECT_NAME_LENGTH, "object")
    return EntityPath(device, partition, SwiftPath(account, container, obj))


def parse_replicate_path(raw_path: str) -> ReplicatePath:
    """``/<device>/<partition>[/<rest>...]``; the rest is left to the handler."""
    parts = _split_raw(raw_path.rstrip("/") or "/", 8)
    if len(parts) < 2:
        raise BadRequest("path must be /<device>/<partition>[/...]")
    device = check_device(unquote_part(parts[0], "device"))
    partition = parse_partition(unquote_part(parts[1], "partition"))
    rest = tuple(unquote_part(part, "path part") for part in parts[2:])
    return ReplicatePath(device, partition, rest)


def entity_type(depth: int, backend_type: str | None) -> str:
    """The entity a request addresses: by depth, unless ``X-Backend-Type`` says."""
    allowed = _TYPES_BY_DEPTH.get(depth)
    if allowed is None:
        raise BadRequest("invalid path depth")
    if not backend_type:
        return allowed[0]
    wanted = backend_type.strip().lower()
    if wanted not in ENTITY_TYPES:
        raise BadRequest("invalid X-Backend-Type")
    if wanted not in allowed:
        raise BadRequest(f"X-Backend-Type {wanted} does not fit a path of {depth} parts")
    return wanted
