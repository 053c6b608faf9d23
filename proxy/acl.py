"""Container ACLs and the decision of who may do what.

``X-Container-Read`` and ``X-Container-Write`` hold comma-separated entries:
``account:user`` (or ``account``, ``account:*``, ``*:user``, ``*``) grant an
authenticated user; ``.r:<host>`` grants requests by ``Referer`` (``*`` any,
``.example.com`` a domain suffix, ``-host`` a denial), and ``.rlistings``
lets such referrer access list the container too. Referrer entries make
sense only for reading, so they are refused in a write ACL.

Ownership follows Swift's tempauth: a ``.admin`` user owns its account, a
``.reseller_admin`` owns every account; other users act only through ACLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from martlet.errors import BadRequest, Forbidden, MethodNotAllowed, Unauthorized
from martlet.swift_path import SwiftPath
from proxy.auth import Identity

READ_METHODS = frozenset({"GET", "HEAD"})
_REFERRER_ALIASES = (".r:", ".ref:", ".referer:", ".referrer:")


@dataclass(frozen=True)
class ACL:
    """One parsed ACL header: user/group grants and ordered referrer rules."""

    groups: frozenset[str] = frozenset()
    referrers: tuple[str, ...] = ()  # in order; the last matching rule wins
    listings: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.groups or self.referrers or self.listings)


def parse_acl(value: str | None, *, allow_referrers: bool = True) -> ACL:
    """Parse a header value; BadRequest for malformed or misplaced entries."""
    if not value:
        return ACL()
    groups: set[str] = set()
    referrers: list[str] = []
    listings = False
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        lowered = entry.lower()
        if lowered == ".rlistings":
            listings = True
        elif lowered.startswith(_REFERRER_ALIASES):
            host = entry.split(":", 1)[1].strip()
            if not host or host in ("-", "."):
                raise BadRequest(f"No host/domain value after referrer designation in ACL: {entry!r}")
            referrers.append(host.lower())
        elif entry.startswith("."):
            raise BadRequest(f"Unknown designator in ACL: {entry!r}")
        else:
            groups.add(entry)
    if not allow_referrers and (referrers or listings):
        raise BadRequest("Referrers not allowed in write ACL")
    return ACL(frozenset(groups), tuple(referrers), listings)


def clean_acl(value: str, *, allow_referrers: bool) -> str:
    """The normalized form stored on the container (validates as a side effect)."""
    acl = parse_acl(value, allow_referrers=allow_referrers)
    parts = sorted(acl.groups) + [f".r:{rule}" for rule in acl.referrers]
    if acl.listings:
        parts.append(".rlistings")
    return ",".join(parts)


def referrer_allowed(referer: str | None, rules: tuple[str, ...]) -> bool:
    """Apply ``.r:`` rules in order to the Referer's host."""
    host = (urlparse(referer).hostname or "").lower() if referer else ""
    allowed = False
    for rule in rules:
        deny = rule.startswith("-")
        pattern = rule[1:] if deny else rule
        if pattern == "*":
            matched = True
        elif pattern.startswith("."):
            matched = host.endswith(pattern) or host == pattern[1:]
        else:
            matched = host == pattern
        if matched:
            allowed = not deny
    return allowed


def identity_groups(identity: Identity, reseller_prefix: str) -> frozenset[str]:
    """The ACL entries that name this user."""
    acct, user = identity.account, identity.user
    names = {f"{acct}:{user}", acct, f"{acct}:*", f"*:{user}", "*:*", "*"}
    names |= {f"{reseller_prefix}{acct}:{user}", f"{reseller_prefix}{acct}"}
    return frozenset(names)


def is_owner(identity: Identity | None, account: str, reseller_prefix: str) -> bool:
    """May this caller do anything to ``account`` (the URL's, with prefix)?"""
    if identity is None:
        return False
    if identity.is_reseller_admin:
        return True
    return identity.is_admin and reseller_prefix + identity.account == account


def authorize(
    identity: Identity | None,
    method: str,
    path: SwiftPath,
    *,
    reseller_prefix: str,
    read_acl: ACL = ACL(),
    write_acl: ACL = ACL(),
    referer: str | None = None,
) -> None:
    """May ``identity`` do ``method`` to ``path``? Return when allowed; raise
    401 (no valid token) or 403 (not allowed)."""
    if is_owner(identity, path.account, reseller_prefix):
        if path.container is None and method in ("PUT", "DELETE"):
            raise MethodNotAllowed("Account PUT and DELETE are not allowed")
        return
    if path.container is not None and _acl_allows(identity, method, path, reseller_prefix, read_acl, write_acl,
                                                  referer):
        return
    if identity is None:
        raise Unauthorized()
    raise Forbidden()


def _acl_allows(
    identity: Identity | None,
    method: str,
    path: SwiftPath,
    reseller_prefix: str,
    read_acl: ACL,
    write_acl: ACL,
    referer: str | None,
) -> bool:
    reading = method in READ_METHODS
    if path.obj is None and not reading:
        return False  # container PUT/POST/DELETE are the owner's alone
    acl = read_acl if reading else write_acl
    if identity is not None and acl.groups & identity_groups(identity, reseller_prefix):
        return True
    if reading and acl.referrers and referrer_allowed(referer, acl.referrers):
        return path.obj is not None or acl.listings
    return False
