"""Who may do what: tempauth's decision, as a pure function.

``decide`` takes the caller (``proxy.auth.Identity``, or None for an
anonymous request), the method and path, and the ACLs that bear on them —
the container's (``X-Container-Read`` for reads, ``X-Container-Write`` for
object writes) and the account's — and either returns a ``Grant`` or raises
401 (no valid token) / 403 (a token that is not allowed). In order, as
tempauth does it:

1. an account under none of the reseller prefixes is nobody's;
2. a ``.reseller_admin`` owns every account under the prefixes (not the
   bare prefix, nor dot-accounts such as ``AUTH_.misc``);
3. a ``.admin`` owns its account under every prefix, when it has the
   prefix's ``require_group`` too (through ``X-Service-Token``);
4. ``OPTIONS`` is anyone's (the answer says what the path allows);
5. the container ACL: referrers (objects, or listings with
   ``.rlistings``), then users and groups;
6. the account ACL: ``admin`` is an owner, ``read-write`` may do anything
   to containers and objects but only read the account, ``read-only`` may
   read (GET/HEAD) anything.

Owners (``Grant.owner``, Swift's ``swift_owner``) alone see and set the
privileged headers (``OWNER_HEADERS``: container ACLs and sync settings,
temp-URL keys, the account ACL). A missing container has no ACL, so the
decision never depends on whether it exists: callers decide first and
reveal existence (404) only to those allowed (``proxy.access``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from martlet.errors import Forbidden, MethodNotAllowed, Unauthorized
from martlet.swift_path import SwiftPath
from proxy.acl import ACL, AccountACL, referrer_allowed
from proxy.auth import ADMIN, RESELLER_ADMIN, Identity, Resellers

READ_METHODS = frozenset({"GET", "HEAD"})

# Shown to and set by owners only (Swift's swift_owner_headers), lowercase.
OWNER_HEADERS = frozenset({
    "x-container-read", "x-container-write", "x-container-sync-key", "x-container-sync-to",
    "x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2",
    "x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2",
    "x-account-access-control",
})


@dataclass(frozen=True)
class Grant:
    """A request that may go ahead; ``owner``: with the account owner's
    rights over privileged headers."""

    owner: bool = False


OWNER = Grant(owner=True)
ALLOWED = Grant(owner=False)


def acl_names(identity: Identity, resellers: Resellers) -> frozenset[str]:
    """The names under which ACLs may grant this caller: ``account``,
    ``account:user`` (also with each reseller prefix, and the ``*`` forms)
    and its plain groups — the service token's user's included."""
    names: set[str] = set()
    for who in (identity, identity.service):
        if who is None:
            continue
        acct, user = who.account, who.user
        names |= {acct, f"{acct}:{user}", f"{acct}:*", f"*:{user}", "*:*", "*"}
        names |= {f"{prefix}{acct}{suffix}" for prefix in resellers.prefixes for suffix in ("", f":{user}")}
        names |= who.groups - {ADMIN}
    return frozenset(names)


def owned_accounts(identity: Identity, resellers: Resellers) -> frozenset[str]:
    """The accounts whose ``.admin`` the caller (or its service user) is."""
    owned: set[str] = set()
    for who in (identity, identity.service):
        if who is not None and ADMIN in who.groups:
            owned |= {prefix + who.account for prefix in resellers.prefixes}
    return frozenset(owned)


def owns(identity: Identity | None, account: str, resellers: Resellers) -> bool:
    """Does the caller own ``account`` by its token alone (steps 1-3)?"""
    if identity is None or identity.scope is not None:
        return False
    prefix = resellers.prefix_of(account)
    if prefix is None:
        return False
    groups = identity.all_groups
    if RESELLER_ADMIN in groups and account != prefix and not account[len(prefix):].startswith("."):
        return True
    if account not in owned_accounts(identity, resellers):
        return False
    required = resellers.required_group(prefix)
    return required is None or required in groups


def decide(
    identity: Identity | None,
    method: str,
    path: SwiftPath,
    resellers: Resellers,
    *,
    read_acl: ACL = ACL(),
    write_acl: ACL = ACL(),
    account_acl: AccountACL = AccountACL(),
    referer: str | None = None,
) -> Grant:
    """May ``identity`` do ``method`` to ``path``? The grant, or raise 401
    (no valid token) / 403 (not allowed) / 405 (an account PUT or DELETE,
    which no one may do)."""
    if identity is not None and identity.scope is not None:
        grant = ALLOWED if in_scope(path, identity.scope) else None
    else:
        grant = _grant(identity, method, path, resellers, read_acl, write_acl, account_acl, referer)
    if grant is None:
        if identity is None or identity.scope is not None:
            raise Unauthorized()
        raise Forbidden()
    if path.container is None and method in ("PUT", "DELETE"):
        raise MethodNotAllowed("Account PUT and DELETE are not allowed")
    return grant


def in_scope(path: SwiftPath, scope: SwiftPath) -> bool:
    """Is ``path`` inside a temp URL's ``scope`` (its account, or its
    container when the scope names one)?"""
    if path.account != scope.account:
        return False
    return scope.container is None or path.container == scope.container


def _grant(identity: Identity | None, method: str, path: SwiftPath, resellers: Resellers, read_acl: ACL,
           write_acl: ACL, account_acl: AccountACL, referer: str | None) -> Grant | None:
    """Steps 1-6 of the module docstring; None: denied."""
    if resellers.prefix_of(path.account) is None:
        return None
    if owns(identity, path.account, resellers):
        return OWNER
    if method == "OPTIONS":
        return ALLOWED
    if path.container is not None and _container_acl_allows(identity, method, path, resellers, read_acl,
                                                             write_acl, referer):
        return ALLOWED
    if identity is None:
        return None
    return _account_acl_grant(acl_names(identity, resellers), method, path, account_acl)


def _container_acl_allows(identity: Identity | None, method: str, path: SwiftPath, resellers: Resellers,
                          read_acl: ACL, write_acl: ACL, referer: str | None) -> bool:
    reading = method in READ_METHODS
    if path.obj is None and not reading:
        return False  # container PUT/POST/DELETE are for owners and account ACLs
    acl = read_acl if reading else write_acl
    if acl.referrers and referrer_allowed(referer, acl.referrers) and (path.obj is not None or acl.listings):
        return True
    return identity is not None and bool(acl.groups & acl_names(identity, resellers))


def _account_acl_grant(names: frozenset[str], method: str, path: SwiftPath, acl: AccountACL) -> Grant | None:
    if names & acl.admin:
        return OWNER
    if names & acl.read_write and (path.container is not None or method in READ_METHODS):
        return ALLOWED
    if names & acl.read_only and method in READ_METHODS:
        return ALLOWED
    return None


def needs_account_acl(identity: Identity | None, path: SwiftPath, resellers: Resellers) -> bool:
    """Could the account ACL change the decision? Only for a caller with a
    token who does not own the account already."""
    if identity is None or identity.scope is not None:
        return False
    return resellers.prefix_of(path.account) is not None and not owns(
        identity, path.account, resellers)


def owner_view(headers: Mapping[str, str], grant: Grant) -> dict[str, str]:
    """An account's or container's headers as the caller may see them."""
    if grant.owner:
        return dict(headers)
    return {k: v for k, v in headers.items() if k.lower() not in OWNER_HEADERS}
