"""Pure: what a symlink is, as headers.

A symlink is a zero-byte object whose system metadata names its target
(``X-Object-Sysmeta-Symlink-Target``: ``<container>/<object>``, quoted, and
``-Target-Account`` when the client named an account). A *static* link
also keeps the ETag and size its target had when the link was made
(``-Target-Etag``, ``-Target-Bytes``), and a read through it fails with 409
when the target no longer has that ETag.

The container row of a link carries the target in its ETag's parameters
(``X-Object-Sysmeta-Container-Update-Override-Etag``, kept by the object
server across POSTs), from which the container server's listing shows
``symlink_path`` (and ``symlink_etag``, ``symlink_bytes``).

Everything here is a plain function over headers: the versioning feature
makes and reads links with ``link_headers`` and ``link_of`` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from martlet.digest import EMPTY_MD5
from martlet.errors import BadRequest, Conflict, PreconditionFailed
from martlet.swift_path import SwiftPath
from proxy.constraints import check_container_name, check_object_name, decode_segment

TARGET_HEADER = "X-Symlink-Target"
ACCOUNT_HEADER = "X-Symlink-Target-Account"
ETAG_HEADER = "X-Symlink-Target-Etag"
BYTES_HEADER = "X-Symlink-Target-Bytes"

TARGET_SYSMETA = "X-Object-Sysmeta-Symlink-Target"
ACCOUNT_SYSMETA = "X-Object-Sysmeta-Symlink-Target-Account"
ETAG_SYSMETA = "X-Object-Sysmeta-Symlink-Target-Etag"
BYTES_SYSMETA = "X-Object-Sysmeta-Symlink-Target-Bytes"
# A link that does not count towards ``symloop_max`` (object versioning's
# link to the current version: the client made no link there).
EXTEND_SYSMETA = "X-Object-Sysmeta-Symloop-Extend"
# Kept by the object server and used for the container row of every PUT
# and POST of the object (storage.container_updates).
OVERRIDE_ETAG_SYSMETA = "X-Object-Sysmeta-Container-Update-Override-Etag"

FORM_REASON = "X-Symlink-Target header must be of the form <container name>/<object name>"


@dataclass(frozen=True)
class Link:
    """Where a link points (names decoded), and for a static link the ETag
    and size its target had. ``own_account`` is False when the link names
    no account (its target is in whatever account holds the link)."""

    account: str
    container: str
    obj: str
    etag: str | None = None
    size: int | None = None
    own_account: bool = True
    counted: bool = True  # towards symloop_max

    @property
    def path(self) -> SwiftPath:
        return SwiftPath(self.account, self.container, self.obj)

    @property
    def target(self) -> str:
        """``<container>/<object>``, quoted as stored and shown."""
        return quote(f"{self.container}/{self.obj}")

    @property
    def location(self) -> str:
        """The target's path as Content-Location and listings show it."""
        return f"/v1/{quote(self.account)}/{self.target}"


def normalize_etag(value: str | None) -> str:
    return (value or "").strip().strip('"')


def parse_link_request(headers: Mapping[str, str], path: SwiftPath) -> Link | None:
    """The link a PUT of ``path`` asks for, or None when it asks for none;
    412 or 400 for a malformed target, 400 for a link to itself."""
    raw = headers.get(TARGET_HEADER)
    if raw is None:
        return None
    text = decode_segment(raw)
    container, _, obj = text.partition("/")
    if not container or not obj:
        raise PreconditionFailed(FORM_REASON)
    check_container_name(container)
    check_object_name(obj)
    account, explicit = path.account, False
    raw_account = headers.get(ACCOUNT_HEADER)
    if raw_account:
        account = decode_segment(raw_account)
        if "/" in account:
            raise PreconditionFailed("Account name cannot contain slashes")
        explicit = account != path.account
    etag = headers.get(ETAG_HEADER)
    if etag is not None:
        if '"' in etag.strip().strip('"') or not etag.strip():
            raise BadRequest("Bad X-Symlink-Target-Etag format")
        etag = normalize_etag(etag)
    link = Link(account, container, obj, etag, None, explicit)
    if link.path == path:
        raise BadRequest("Symlink cannot target itself")
    return link


def link_of(headers: Mapping[str, str], account: str) -> Link | None:
    """The link an object read's (backend) headers say the object is, or
    None; ``account`` is the link's own (the target's when it names none)."""
    target = headers.get(TARGET_SYSMETA)
    if not target:
        return None
    container, _, obj = unquote(target).partition("/")
    named = headers.get(ACCOUNT_SYSMETA)
    size = headers.get(BYTES_SYSMETA, "")
    return Link(unquote(named) if named else account, container, obj, headers.get(ETAG_SYSMETA) or None,
                int(size) if size.isdigit() else None, bool(named),
                headers.get(EXTEND_SYSMETA, "").lower() != "true")


def link_headers(link: Link, content_type: str | None = None, slo_etag: str | None = None) -> dict[str, str]:
    """The backend headers of a PUT that makes ``link`` (system metadata,
    the container row's ETag, and its content type when given). A static
    link to an SLO manifest lists the large object's ETag too (``slo_etag``)."""
    out = {TARGET_SYSMETA: link.target}
    params = [f"symlink_target={link.target}", f"symlink_target_account={quote(link.account)}"]
    if link.own_account:
        out[ACCOUNT_SYSMETA] = quote(link.account)
    if not link.counted:
        out[EXTEND_SYSMETA] = "true"
    if link.etag is not None:
        out[ETAG_SYSMETA] = link.etag
        params.append(f"symlink_target_etag={link.etag}")
        if link.size is not None:
            out[BYTES_SYSMETA] = str(link.size)
            params.append(f"symlink_target_bytes={link.size}")
        if slo_etag:
            params.append(f"slo_etag={slo_etag}")
    out[OVERRIDE_ETAG_SYSMETA] = "; ".join([EMPTY_MD5, *params])
    if content_type:
        out["Content-Type"] = content_type
    return out


def client_headers(link: Link) -> dict[str, str]:
    """What a ``?symlink=get`` read of the link shows of it."""
    out = {TARGET_HEADER: link.target}
    if link.own_account:
        out[ACCOUNT_HEADER] = quote(link.account)
    if link.etag is not None:
        out[ETAG_HEADER] = link.etag
        if link.size is not None:
            out[BYTES_HEADER] = str(link.size)
    return out


def validated_by(headers: Mapping[str, str]) -> tuple[str, int]:
    """The (ETag, size) a static link to the object with these (backend)
    headers is checked against: a static link's own target's, else the
    object's (an SLO manifest's as stored, with its large object's size)."""
    if headers.get(ETAG_SYSMETA):
        size = headers.get(BYTES_SYSMETA, "")
        return headers[ETAG_SYSMETA], int(size) if size.isdigit() else 0
    size = headers.get("X-Object-Sysmeta-Slo-Size") or headers.get("Content-Length") or "0"
    return normalize_etag(headers.get("ETag")), int(size) if size.isdigit() else 0


def check_etag(expected: str, headers: Mapping[str, str], location: str) -> None:
    """409 when the object a static link reaches no longer has ``expected``."""
    if validated_by(headers)[0] != expected:
        raise Conflict(f"Object Etag {normalize_etag(headers.get('ETag'))!r} does not match "
                       f"X-Symlink-Target-Etag header {expected!r}",
                       headers={"Content-Location": location})


def loop_reason(limit: int) -> str:
    return f"Too many levels of symbolic links, maximum allowed is {limit}"
