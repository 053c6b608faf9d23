"""The pure rules of legacy versioned writes (``proxy.versioned_writes``):
the location headers as container system metadata, the names of versions,
what a version keeps of the object, and what a failed step answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from martlet.content_type import with_swift_bytes
from martlet.errors import BadRequest, MartletError, PreconditionFailed, ServiceUnavailable
from martlet.timestamp import Timestamp
from proxy.constraints import MAX_CONTAINER_NAME_LENGTH, decode_segment
from proxy.state import ContainerInfo

VERSIONS_LOCATION = "X-Versions-Location"
HISTORY_LOCATION = "X-History-Location"
REMOVE_HEADERS = ("X-Remove-Versions-Location", "X-Remove-History-Location")
SYSMETA_LOCATION = "X-Container-Sysmeta-Versions-Location"
SYSMETA_MODE = "X-Container-Sysmeta-Versions-Mode"
STACK, HISTORY = "stack", "history"
DELETE_MARKER = "application/x-deleted;swift_versions_deleted=1"
# Rows of the versions container read per listing request (a DELETE
# usually needs the first one or two).
LISTING_PAGE = 100

# What an archived (or restored) copy keeps of the object's stored headers:
# its content headers, metadata and large-object markers; not its
# timestamp, which every write gets anew.
_KEPT = frozenset({"content-type", "etag", "content-encoding", "content-disposition", "content-language",
                   "cache-control", "expires", "x-object-manifest", "x-robots-tag", "x-static-large-object",
                   "x-delete-at"})
_KEPT_PREFIXES = ("x-object-meta-", "x-object-sysmeta-", "x-object-transient-sysmeta-")
_SLO_SIZE, _SLO_ETAG = "x-object-sysmeta-slo-size", "x-object-sysmeta-slo-etag"


@dataclass(frozen=True)
class Versioning:
    """Where a container keeps old versions (decoded name) and how."""

    container: str
    mode: str


def location_updates(headers: Mapping[str, str]) -> dict[str, str]:
    """The container system metadata a container PUT/POST with ``headers``
    sets: the location and mode, both empty to turn versioning off, or
    nothing. 400 for both modes at once, 412 for a bad location."""
    versions, history = headers.get(VERSIONS_LOCATION), headers.get(HISTORY_LOCATION)
    if versions is not None and history is not None:
        if not history:
            history = None  # the versions location decides
        elif versions:
            raise BadRequest(f"Only one of {VERSIONS_LOCATION} or {HISTORY_LOCATION} may be specified")
        else:
            versions = None
    value, mode = (versions, STACK) if versions is not None else (history, HISTORY)
    if value:
        check_location(value)
        return {SYSMETA_LOCATION: value, SYSMETA_MODE: mode}  # a new location beats a removal
    if value is not None or any(headers.get(name) for name in REMOVE_HEADERS):
        return {SYSMETA_LOCATION: "", SYSMETA_MODE: ""}
    return {}


def check_location(value: str) -> str:
    """The container a location header names (it is URL-quoted): Swift's
    412 for a slash, 400 for what decodes to no valid container name."""
    if "/" in value:
        raise PreconditionFailed("Container name cannot contain slashes")
    try:
        name = decode_segment(value)
    except BadRequest:
        raise BadRequest(f"Invalid {VERSIONS_LOCATION}") from None
    if not name or "/" in name or len(name.encode("utf-8")) > MAX_CONTAINER_NAME_LENGTH:
        raise BadRequest(f"Invalid {VERSIONS_LOCATION}")
    return name


def versioning_of(info: ContainerInfo) -> Versioning | None:
    """A container's versioning, from its system metadata (None: off)."""
    location = info.sysmeta.get("versions-location")
    if not location:
        return None
    try:
        name = decode_segment(location).split("/")[0]
    except BadRequest:
        return None  # stored before it was checked: not a location we can use
    if not name:
        return None
    mode = HISTORY if info.sysmeta.get("versions-mode") == HISTORY else STACK
    return Versioning(name, mode)


def location_shown(sysmeta: Mapping[str, str]) -> dict[str, str]:
    """The header a container's answer shows its versions location under."""
    location = sysmeta.get("versions-location")
    if not location:
        return {}
    header = HISTORY_LOCATION if sysmeta.get("versions-mode") == HISTORY else VERSIONS_LOCATION
    return {header: location}


def version_prefix(obj: str) -> str:
    """Where the versions of ``obj`` are listed: its UTF-8 length in three
    hex digits, the name, a slash."""
    return f"{len(obj.encode('utf-8')):03x}{obj}/"


def version_name(obj: str, timestamp: str) -> str:
    """The name of the version of ``obj`` written at ``timestamp``; fixed
    width, so the listing's order is the versions' age."""
    return version_prefix(obj) + Timestamp.parse(timestamp).internal


def copy_headers(stored: Mapping[str, str]) -> dict[str, str]:
    """The headers of an archive or restore copy of an object whose backend
    answer had ``stored``: its own content headers and metadata; an SLO
    manifest also keeps its container row (the large object's size and ETag)."""
    headers = {k: v for k, v in stored.items() if k.lower() in _KEPT or k.lower().startswith(_KEPT_PREFIXES)}
    lowered = {k.lower(): v for k, v in stored.items()}
    size, slo_etag = lowered.get(_SLO_SIZE, ""), lowered.get(_SLO_ETAG)
    if size.isdigit() and slo_etag:
        content_type = lowered.get("content-type", "application/octet-stream")
        headers["X-Backend-Container-Update-Override-Content-Type"] = with_swift_bytes(content_type, int(size))
        headers["X-Backend-Container-Update-Override-Etag"] = f"{lowered.get('etag', '')}; slo_etag={slo_etag}"
    return headers


def fail_with(status: int) -> MartletError:
    """What a versioning step that was answered ``status`` makes of the
    client's request: a client error (the versions container is missing or
    refuses) is Swift's 412, anything else a 503."""
    if 400 <= status < 500:
        return PreconditionFailed()
    return ServiceUnavailable("Could not version the object")
