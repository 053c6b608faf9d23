"""Path hashing shared by the ring (partitions) and storage (hash dirs).

The md5 of ``prefix + "/account[/container[/object]]" + suffix`` names where a
path lives: its first four bytes pick the partition, its hex form is the
object's hash directory, and the last three hex digits its suffix directory.
Prefix and suffix come from ``[hash]`` in ``martlet.conf`` and must be the same
on every node of a cluster; with the same values this matches Swift.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from martlet.errors import BadRequest


@dataclass(frozen=True)
class HashSection:
    """``[hash]`` of martlet.conf."""

    path_prefix: str = ""
    path_suffix: str = "changeme"


def entity_path(account: str, container: str | None = None, obj: str | None = None) -> str:
    """``/account[/container[/object]]``; an object needs a container."""
    if obj is not None and container is None:
        raise BadRequest("an object path needs a container")
    parts = [account] + [p for p in (container, obj) if p is not None]
    return "/" + "/".join(parts)


def hash_path_digest(
    account: str,
    container: str | None = None,
    obj: str | None = None,
    *,
    settings: HashSection = HashSection(),
) -> bytes:
    """The raw md5 digest of a path under the cluster's prefix and suffix."""
    text = settings.path_prefix + entity_path(account, container, obj) + settings.path_suffix
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()


def hash_path(
    account: str,
    container: str | None = None,
    obj: str | None = None,
    *,
    settings: HashSection = HashSection(),
) -> str:
    """The md5 hex of a path: the name of its hash directory on disk."""
    return hash_path_digest(account, container, obj, settings=settings).hex()


def partition_of_digest(digest: bytes, part_power: int) -> int:
    """First four bytes big-endian, shifted right by ``32 - part_power``."""
    return int.from_bytes(digest[:4], "big") >> (32 - part_power)
