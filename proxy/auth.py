"""v1 auth: users from ``[auth]``, and stateless signed tokens.

A token names its account, user, roles and expiry and carries an HMAC of
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

TOKEN_PREFIX = "AUTH_tk"
ADMIN = ".admin"
RESELLER_ADMIN = ".reseller_admin"
ROLES = (ADMIN, RESELLER_ADMIN)


@dataclass(frozen=True)
class User:
    account: str  # without the reseller prefix: "test" for AUTH_test
    user: str
    key: str
    roles: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return f"{self.account}:{self.user}"


UserTable = Mapping[str, User]  # "account:user" -> User


def parse_users(raw: Mapping[str, str], where: str = "[auth]") -> dict[str, User]:
    """``user_<account>_<user> = <key> [.admin] [.reseller_admin]`` lines."""
    users: dict[str, User] = {}
    for option, value in raw.items():
        if not option.startswith("user_"):
            continue
        account, sep, user = option[len("user_") :].partition("_")
        words = value.split()
        if not sep or not account or not user or not words:
            raise ConfigError(f"{where} {option}: expected user_<account>_<user> = <key> [roles]")
        roles = frozenset(words[1:])
        unknown = roles - set(ROLES)
        if unknown:
            raise ConfigError(f"{where} {option}: unknown role {sorted(unknown)[0]!r}")
        users[f"{account}:{user}"] = User(account, user, words[0], roles)
    return users


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
    """Who a valid token says the caller is."""

    account: str  # without the reseller prefix
    user: str
    roles: frozenset[str]
    expires: int

    @property
    def name(self) -> str:
        return f"{self.account}:{self.user}"

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def is_reseller_admin(self) -> bool:
        return RESELLER_ADMIN in self.roles


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:40]


def make_token(secret: str, user: User, now: float, token_life: int) -> str:
    """``AUTH_tk<payload>.<hmac>``: header-safe, self-contained, signed."""
    expires = int(now) + token_life
    fields = "\n".join([user.account, user.user, ",".join(sorted(user.roles)), str(expires)])
    payload = _b64(fields.encode("utf-8"))
    return f"{TOKEN_PREFIX}{payload}.{_signature(secret, payload)}"


def verify_token(secret: str, token: str, now: float) -> Identity | None:
    """The identity in ``token`` if its signature holds and it has not expired."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    payload, _, signature = token[len(TOKEN_PREFIX) :].rpartition(".")
    if not payload or not hmac.compare_digest(signature, _signature(secret, payload)):
        return None
    try:
        account, user, roles, expires = _unb64(payload).decode("utf-8").split("\n")
        expiry = int(expires)
    except (ValueError, UnicodeDecodeError):
        return None
    if expiry <= now:
        return None
    return Identity(account, user, frozenset(r for r in roles.split(",") if r), expiry)
