"""Who an S3 access key is, and the secret its signatures are made with.

Two sources, both in proxy.conf:

- every ``[auth]`` user, as Swift's s3api with tempauth: the access key is
  ``<account>:<user>`` and the secret is the user's key (``test:tester`` /
  ``testing`` on a dev cluster, what Swift's own s3api tests use);
- ``[s3api]`` lines ``access_<access key> = <account>:<user> <secret>``
  for AWS-style key pairs of an existing user. The ini reader lowercases
  option names, so these access keys are matched case-insensitively (the
  secret, which the signature proves, keeps its case).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from martlet.errors import ConfigError
from proxy.auth import UserTable

ACCESS_PREFIX = "access_"


@dataclass(frozen=True)
class S3Credential:
    """One access key: the ``account:user`` it acts as, and its secret."""

    access_key: str
    user: str  # "account:user", a key of the [auth] user table
    secret: str


def parse_access_lines(raw: Mapping[str, str], users: Mapping[str, object],
                       where: str = "[s3api]") -> dict[str, S3Credential]:
    """The ``access_<key>`` lines of ``[s3api]`` (lowercased keys); each
    must name a user of ``[auth]``."""
    found: dict[str, S3Credential] = {}
    for option, value in raw.items():
        if not option.startswith(ACCESS_PREFIX):
            continue
        key = option[len(ACCESS_PREFIX):]
        words = value.split()
        if not key or len(words) != 2:
            raise ConfigError(f"{where} {option}: expected access_<access key> = <account>:<user> <secret>")
        if words[0] not in users:
            raise ConfigError(f"{where} {option}: {words[0]} is no user of [auth]")
        found[key.lower()] = S3Credential(key.lower(), words[0], words[1])
    return found


def find_credential(access_key: str, users: UserTable, keys: Mapping[str, S3Credential]) -> S3Credential | None:
    """The credential of ``access_key``: an ``[s3api]`` key, else an
    ``[auth]`` user's own name, else None."""
    found = keys.get(access_key.lower())
    if found is not None:
        return found
    user = users.get(access_key)
    if user is not None:
        return S3Credential(access_key, access_key, user.key)
    return None
