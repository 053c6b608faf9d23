"""Which headers cross the proxy, in each direction.

Client requests carry only what the backend should see (user metadata,
content headers, conditions, ACLs); internal headers are built here and
never taken from the client. Backend answers lose their ``X-Backend-*`` and
hop-by-hop headers before the client sees them.
"""

from __future__ import annotations

from collections.abc import Mapping

from martlet.config import is_true
from martlet.http import header_text
from proxy.constraints import check_metadata, guess_content_type, resolve_delete_at

# The conditions and Range of an object read, which the backend judges.
READ_HEADERS = ("Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")

# Passed from the client to the backend as they are (case-insensitive).
_PASSED = frozenset(
    h.lower()
    for h in (
        "Content-Type",
        "Content-Encoding",
        "Content-Disposition",
        "Content-Language",
        "Cache-Control",
        "Expires",
        "X-Robots-Tag",
        "ETag",
        "Range",
        "If-Match",
        "If-None-Match",
        "If-Modified-Since",
        "If-Unmodified-Since",
        "X-Delete-At",
        "X-Container-Read",
        "X-Container-Write",
        "X-Container-Sync-Key",
        "X-Object-Manifest",
        "X-Static-Large-Object",
        "Accept",
    )
)
_META_PREFIXES = ("x-account-meta-", "x-container-meta-", "x-object-meta-")
_SYSMETA_PREFIXES = ("x-account-sysmeta-", "x-container-sysmeta-", "x-object-sysmeta-")
_REMOVE_PREFIXES = ("x-remove-account-meta-", "x-remove-container-meta-", "x-remove-object-meta-")

# Never returned to a client: hop-by-hop, or the backend's own business.
_DROPPED_FROM_BACKEND = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "server", "date", "content-length"}
)
_REMOVE_ACL = {"x-remove-container-read": "X-Container-Read", "x-remove-container-write": "X-Container-Write"}


def client_headers_for_backend(headers: Mapping[str, str]) -> dict[str, str]:
    """The client's headers that the backend should see.

    ``X-Remove-<Kind>-Meta-Foo`` becomes ``X-<Kind>-Meta-Foo`` with an empty
    value, which the backend takes as a deletion (Swift's convention).
    Values go on as text (``martlet.http.header_text``): bytes that are not
    UTF-8, which an object's metadata may hold, become U+FFFD.
    """
    out: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _PASSED or lowered.startswith(_META_PREFIXES):
            out[name] = header_text(value)
        elif lowered.startswith(_REMOVE_PREFIXES):
            out["X-" + name[len("X-Remove-") :]] = ""
        elif lowered in _REMOVE_ACL:
            out[_REMOVE_ACL[lowered]] = ""
    return out


def object_headers(headers: Mapping[str, str], now: float) -> dict[str, str]:
    """Backend headers of an object PUT, POST or copy from the client's:
    metadata checked against Swift's limits, ``X-Delete-After`` made an
    ``X-Delete-At`` (400 for either going wrong)."""
    check_metadata(headers, "object")
    out = client_headers_for_backend(headers)
    delete_at = resolve_delete_at(headers, now)
    if delete_at is not None:
        out["X-Delete-At"] = delete_at
    return out


def content_type_of(headers: Mapping[str, str], obj: str) -> str:
    """An object PUT's Content-Type: the client's, or guessed from the
    name when it sent none or asked with ``X-Detect-Content-Type``."""
    detect = is_true(headers.get("X-Detect-Content-Type"))
    return guess_content_type(obj, headers.get("Content-Type"), detect)


def backend_response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A backend answer's headers, fit for the client."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _DROPPED_FROM_BACKEND or lowered.startswith("x-backend-"):
            continue
        if lowered.startswith(_SYSMETA_PREFIXES) or lowered == "x-trans-id":
            continue
        out[name] = value
    return out


def user_metadata(headers: Mapping[str, str], kind: str) -> dict[str, str]:
    """The ``X-<kind>-Meta-*`` headers of a backend answer (for copies)."""
    prefix = f"x-{kind}-meta-"
    return {k: v for k, v in headers.items() if k.lower().startswith(prefix)}


def entity_metadata(headers: Mapping[str, str], kind: str) -> tuple[dict[str, str], dict[str, str]]:
    """(user metadata, system metadata) of an account or container answer,
    each keyed by the lower-case name after ``X-<Kind>-Meta-`` or
    ``X-<Kind>-Sysmeta-`` (what features look up: ``quota-bytes``...)."""
    meta_prefix, sysmeta_prefix = f"x-{kind}-meta-", f"x-{kind}-sysmeta-"
    meta: dict[str, str] = {}
    sysmeta: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(meta_prefix):
            meta[lowered[len(meta_prefix):]] = value
        elif lowered.startswith(sysmeta_prefix):
            sysmeta[lowered[len(sysmeta_prefix):]] = value
    return meta, sysmeta
