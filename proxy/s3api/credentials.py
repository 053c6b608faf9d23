"""Who an S3 access key is, and the secret its signatures are made with.

Two sources, both in proxy.conf:

- every ``[auth]`` user, as Swift's s3api with tempauth: the access key is
  ``<account>:<user>`` and the secret is the user's key (``test:tester`` /
  ``testing`` on a dev cluster, what Swift's own s3api tests use);
- ``[s3api]`` lines ``access_<access key> = <account>:<user> <secret>``
  for AWS-style key pairs of an existing user (``proxy.config`` reads and
  checks them). The ini reader lowercases option names, so these access
  keys are matched case-insensitively; the secret, which the signature
  proves, keeps its case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from proxy.auth import UserTable


@dataclass(frozen=True)
class S3Credential:
    """One access key: the ``account:user`` it acts as, and its secret."""

    access_key: str
    user: str  # "account:user", a key of the [auth] user table
    secret: str


def find_credential(access_key: str, users: UserTable,
                    access_keys: Mapping[str, tuple[str, str]]) -> S3Credential | None:
    """The credential of ``access_key``: an ``[s3api]`` key, else an
    ``[auth]`` user's own name, else None."""
    found = access_keys.get(access_key.lower())
    if found is not None:
        return S3Credential(access_key, *found)
    user = users.get(access_key)
    if user is not None:
        return S3Credential(access_key, access_key, user.key)
    return None
