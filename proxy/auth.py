"""v1 auth, as Swift's tempauth: users and groups from ``[auth]``, reseller
prefixes, and stateless signed tokens.

``[auth]`` of proxy.conf holds

- ``user_<account>_<user> = <key> [group ...]``: a user and its groups.
  ``.admin`` owns the user's account (under every reseller prefix),
  ``.reseller_admin`` owns every account under the reseller prefixes;
  any other word is a plain group name (``service``) that ACLs and
  ``require_group`` can name.
- ``reseller_prefix = AUTH, SERVICE``: the account-name prefixes this auth
  serves (``_`` appended when missing; ``''`` for none). The first one
  makes the storage URL a user gets. Accounts under none of them are
  nobody's.
- ``<PREFIX>_require_group = <group>`` (or plain ``require_group`` for
  every prefix): an account under that prefix is owned only by a caller
  that also has the group, typically through a service token
  (``X-Service-Token``) of a user in it. That is how a service keeps its
  ``SERVICE_<project>`` data out of the project user's sole reach.

A token names its account, user, groups and expiry and carries an HMAC of
them keyed by the cluster secret, so any proxy of the cluster can check any
proxy's token without shared storage. Tokens cannot be revoked before they
expire; ``token_life`` bounds that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from martlet.errors import ConfigError, Unauthorized
from martlet.swift_path import SwiftPath

TOKEN_PREFIX = "AUTH_tk"
ADMIN = ".admin"
RESELLER_ADMIN = ".reseller_admin"
ROLES = (ADMIN, RESELLER_ADMIN)  # the groups that start with a dot


@dataclass(frozen=True)
class User:
    account: str  # without the reseller prefix: "test" for AUTH_test
    user: str
    key: str
    groups: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return f"{self.account}:{self.user}"


UserTable = Mapping[str, User]  # "account:user" -> User


def parse_users(raw: Mapping[str, str], where: str = "[auth]") -> dict[str, User]:
    """``user_<account>_<user> = <key> [group ...]`` lines; other keys are
    left to ``parse_resellers``."""
    users: dict[str, User] = {}
    for option, value in raw.items():
        if not option.startswith("user_"):
            continue
        account, sep, user = option[len("user_") :].partition("_")
        words = value.split()
        if not sep or not account or not user or not words:
            raise ConfigError(f"{where} {option}: expected user_<account>_<user> = <key> [groups]")
        groups = frozenset(words[1:])
        unknown = {g for g in groups if g.startswith(".")} - set(ROLES)
        if unknown:
            raise ConfigError(f"{where} {option}: unknown role {sorted(unknown)[0]!r}")
        if any("," in g for g in groups):
            raise ConfigError(f"{where} {option}: a group name cannot hold a comma")
        users[f"{account}:{user}"] = User(account, user, words[0], groups)
    return users


@dataclass(frozen=True)
class Resellers:
    """The reseller prefixes and the group each one requires of its owners."""

    prefixes: tuple[str, ...] = ("AUTH_",)
    # (prefix, group) pairs; a prefix without a pair requires nothing.
    require_groups: tuple[tuple[str, str], ...] = ()

    @property
    def storage_prefix(self) -> str:
        """The prefix of the account in a user's storage URL."""
        return self.prefixes[0]

    def prefix_of(self, account: str) -> str | None:
        """The prefix ``account`` is under (the empty prefix last), or None."""
        for prefix in self.prefixes:
            if prefix and account.startswith(prefix):
                return prefix
        return "" if "" in self.prefixes else None

    def required_group(self, prefix: str) -> str | None:
        for name, group in self.require_groups:
            if name == prefix:
                return group
        return None


def _with_underscore(prefix: str) -> str:
    return prefix if not prefix or prefix.endswith("_") else prefix + "_"


def parse_resellers(raw: Mapping[str, str], where: str = "[auth]") -> Resellers:
    """``reseller_prefix`` and ``[<PREFIX>_]require_group`` as Swift reads them."""
    prefixes: list[str] = []
    for word in raw.get("reseller_prefix", "AUTH").split(","):
        word = word.strip()
        if not word:
            continue
        prefix = _with_underscore("" if word == "''" else word)
        if prefix not in prefixes:
            prefixes.append(prefix)
    if not prefixes:
        prefixes.append("")
    # configparser lowercases option names: SERVICE_require_group is read
    # as service_require_group.
    keys = {prefix: (prefix or "''").lower() + "require_group" for prefix in prefixes}
    default = raw.get("require_group", "").strip()
    pairs = []
    for prefix in prefixes:
        group = raw.get(keys[prefix], default).strip()
        if group:
            pairs.append((prefix, group))
    known = set(keys.values()) | {"require_group"}
    stray = [k for k in raw if k.endswith("require_group") and k not in known]
    if stray:
        raise ConfigError(f"{where} {stray[0]}: names no reseller prefix of reseller_prefix")
    return Resellers(tuple(prefixes), tuple(pairs))


def authenticate(users: UserTable, auth_user: str | None, auth_key: str | None) -> User:
    """The user whose key matches, or Unauthorized (401)."""
    if not auth_user or auth_key is None:
        raise Unauthorized("X-Auth-User and X-Auth-Key are required")
    user = users.get(auth_user)
    if user is None or not hmac.compare_digest(user.key.encode(), auth_key.encode()):
        raise Unauthorized("Invalid credentials")
    return user


@dataclass(frozen=True)
class Identity:
    """Who a valid token says the caller is; with ``service``, the user of a
    valid ``X-Service-Token`` sent along (whose groups the caller also has,
    as in tempauth)."""

    account: str  # without the reseller prefix
    user: str
    groups: frozenset[str]
    expires: int
    service: Identity | None = None
    # A temp URL's caller (proxy.tempurl): nobody's token, allowed any
    # request inside the signature's scope (an account, or one container).
    scope: SwiftPath | None = None

    @property
    def name(self) -> str:
        return f"{self.account}:{self.user}"

    @property
    def all_groups(self) -> frozenset[str]:
        """The configured groups of the user and of the service user."""
        return self.groups | (self.service.groups if self.service else frozenset())

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.groups

    @property
    def is_reseller_admin(self) -> bool:
        return RESELLER_ADMIN in self.all_groups


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:40]


def make_token(secret: str, user: User, now: float, token_life: int) -> str:
    """``AUTH_tk<payload>.<hmac>``: header-safe, self-contained, signed."""
    expires = int(now) + token_life
    fields = "\n".join([user.account, user.user, ",".join(sorted(user.groups)), str(expires)])
    payload = _b64(fields.encode("utf-8"))
    return f"{TOKEN_PREFIX}{payload}.{_signature(secret, payload)}"


# (secret, token) -> the identity a token with a valid signature names.
# Tokens are self-contained and signed, so the answer for one never
# changes but for its expiry, checked on every use; this spares an HMAC
# and a decode per request. Only valid tokens are kept, and never more
# than VERIFIED_MAX (forgotten all at once when full).
_verified: dict[tuple[str, str], Identity] = {}
VERIFIED_MAX = 4096


def verify_token(secret: str, token: str, now: float) -> Identity | None:
    """The identity in ``token`` if its signature holds and it has not expired."""
    known = _verified.get((secret, token))
    if known is not None:
        return known if known.expires > now else None
    identity = _check_token(secret, token)
    if identity is None:
        return None
    if len(_verified) >= VERIFIED_MAX:
        _verified.clear()
    _verified[(secret, token)] = identity
    return identity if identity.expires > now else None


def _check_token(secret: str, token: str) -> Identity | None:
    """The identity a token names if its signature holds (expired or not)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    payload, _, signature = token[len(TOKEN_PREFIX) :].rpartition(".")
    if not payload or not hmac.compare_digest(signature, _signature(secret, payload)):
        return None
    try:
        account, user, groups, expires = _unb64(payload).decode("utf-8").split("\n")
        expiry = int(expires)
    except (ValueError, UnicodeDecodeError):
        return None
    return Identity(account, user, frozenset(g for g in groups.split(",") if g), expiry)


def verify_tokens(secret: str, token: str | None, service_token: str | None, now: float) -> Identity | None:
    """The caller of a request: the user token's identity, joined by the
    service token's when both are valid (a service token alone is nobody)."""
    identity = verify_token(secret, token, now) if token else None
    if identity is None or not service_token:
        return identity
    service = verify_token(secret, service_token, now)
    if service is None:
        return identity
    return Identity(identity.account, identity.user, identity.groups, identity.expires, service)
