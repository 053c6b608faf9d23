"""ACL syntax: container ACLs and account ACLs, parsed, checked and written
back in their stored form (pure; who may do what with them is
``proxy.authorization``).

Container ACLs (``X-Container-Read``, ``X-Container-Write``) hold
comma-separated entries: ``account:user`` (or ``account``, ``account:*``,
``*:user``, ``*``) grant an authenticated user; ``.r:<host>`` grants
requests by ``Referer`` (``*`` any, ``.example.com`` — or ``*.example.com``,
stored as ``.example.com`` — a domain suffix, ``-<host>`` a denial; applied
in order), and ``.rlistings`` lets such referrer access list the container
too. Referrer entries make sense only for reading, so they are refused in a
write ACL. Cleaning keeps the entries in their order, as Swift's clean_acl.

The account ACL (``X-Account-Access-Control``) is Swift's version-2 JSON
object with lists of grantees under ``admin``, ``read-write`` and
``read-only``. It is stored as account sysmeta, which clients can neither
see nor set directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from martlet.errors import BadRequest

_REFERRER_ALIASES = (".r", ".ref", ".referer", ".referrer")
LISTINGS = ".rlistings"

ACCOUNT_ACL_HEADER = "X-Account-Access-Control"
ACCOUNT_ACL_SYSMETA = "X-Account-Sysmeta-Core-Access-Control"
ACCOUNT_ACL_KEYS = ("admin", "read-write", "read-only")


@dataclass(frozen=True)
class ACL:
    """One parsed container ACL: user/group grants and ordered referrer rules."""

    groups: frozenset[str] = frozenset()
    referrers: tuple[str, ...] = ()  # in order; the last matching rule wins
    listings: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.groups or self.referrers or self.listings)


def _clean_entries(value: str, allow_referrers: bool) -> list[str]:
    """The entries of a container ACL in stored form; BadRequest for a
    malformed or misplaced one."""
    entries: list[str] = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        first, colon, second = (part.strip() for part in entry.partition(":"))
        if entry.lower() == LISTINGS:
            if not allow_referrers:
                raise BadRequest("Referrers not allowed in write ACL")
            entries.append(LISTINGS)
        elif not first.startswith("."):
            entries.append(entry)
        elif colon and first.lower() in _REFERRER_ALIASES:
            if not allow_referrers:
                raise BadRequest(f"Referrers not allowed in write ACL: {entry!r}")
            deny = second.startswith("-")
            host = second[1:].strip() if deny else second
            if host != "*" and host.startswith("*"):
                host = host[1:].strip()  # *.example.com is the domain .example.com
            if not host or host == ".":
                raise BadRequest(f"No host/domain value after referrer designation in ACL: {entry!r}")
            entries.append(f".r:{'-' if deny else ''}{host.lower()}")
        else:
            raise BadRequest(f"Unknown designator {first!r} in ACL: {entry!r}")
    return entries


def clean_acl(value: str, *, allow_referrers: bool) -> str:
    """The stored form of a container ACL header (BadRequest if malformed)."""
    return ",".join(_clean_entries(value, allow_referrers))


def parse_acl(value: str | None, *, allow_referrers: bool = True) -> ACL:
    """Parse a container ACL; BadRequest for malformed or misplaced entries."""
    if not value:
        return ACL()
    groups: set[str] = set()
    referrers: list[str] = []
    listings = False
    for entry in _clean_entries(value, allow_referrers):
        if entry == LISTINGS:
            listings = True
        elif entry.startswith(".r:"):
            referrers.append(entry[len(".r:") :])
        else:
            groups.add(unquote(entry))
    return ACL(frozenset(groups), tuple(referrers), listings)


def referrer_allowed(referer: str | None, rules: tuple[str, ...]) -> bool:
    """Apply ``.r:`` rules in order to the Referer's host (Swift's matching:
    ``.example.com`` matches hosts ending with it, not ``example.com``)."""
    host = (urlparse(referer).hostname or "unknown") if referer else "unknown"
    allowed = False
    for rule in rules:
        deny = rule.startswith("-")
        pattern = rule[1:] if deny else rule
        if pattern == host or (pattern.startswith(".") and host.endswith(pattern)):
            allowed = not deny
        elif pattern == "*" and not deny:
            allowed = True
    return allowed


@dataclass(frozen=True)
class AccountACL:
    """The grantees of an account ACL, by level."""

    admin: frozenset[str] = frozenset()
    read_write: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not (self.admin or self.read_write or self.read_only)


def format_account_acl(acl: dict[str, list[str]]) -> str:
    """Swift's version-2 form: compact, ASCII-only, keys sorted."""
    return json.dumps(acl, ensure_ascii=True, separators=(",", ":"), sort_keys=True)


def _load_object(text: str) -> dict[str, object] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def check_account_acl(text: str, max_size: int) -> str:
    """The stored form of a client's ``X-Account-Access-Control`` ("" for
    an empty ACL, which removes it); BadRequest saying what is wrong."""

    def invalid(error: str) -> BadRequest:
        return BadRequest(f"X-Account-Access-Control invalid: {error}\n\nInput: {text}\n")

    if len(text) > max_size:
        raise invalid(f"longer than {max_size} bytes")
    data = _load_object(text) if text else {}
    if data is None:
        raise invalid(f"Syntax error in input ({text!r})")
    for key in data:
        if key not in ACCOUNT_ACL_KEYS:
            raise invalid(f"Key {json.dumps(key)} not recognized")
    acl: dict[str, list[str]] = {}
    for key, grantees in data.items():
        if not isinstance(grantees, list):
            raise invalid(f"Value for key {json.dumps(key)} must be a list")
        if not all(isinstance(g, str) for g in grantees):
            raise invalid(f"Elements of {json.dumps(key)} list must be strings")
        acl[key] = grantees
    return format_account_acl(acl) if acl else ""


def shown_account_acl(stored: str | None) -> str | None:
    """The ``X-Account-Access-Control`` an owner sees for the stored form
    (None: no ACL, or one that does not parse)."""
    data = _load_object(stored) if stored else None
    if not data:
        return None
    return format_account_acl({k: v for k, v in data.items() if isinstance(v, list)})


def account_acl_from_stored(stored: str | None) -> AccountACL:
    """The grantees of a stored account ACL (empty when there is none or it
    does not parse: an unreadable ACL grants nothing)."""
    data = _load_object(stored) if stored else None
    if not data:
        return AccountACL()

    def grantees(key: str) -> frozenset[str]:
        value = data.get(key)
        return frozenset(g for g in value if isinstance(g, str)) if isinstance(value, list) else frozenset()

    return AccountACL(grantees("admin"), grantees("read-write"), grantees("read-only"))
