"""Replication planning: pure functions from what two replicas hold to what
must be sent. No I/O, no clock, no network: the object replicator gathers
the inputs and carries out the result.

Two levels, each cheap before the next:

1. ``suffixes_to_sync(local, remote)``: suffix hashes (REPLICATE) of a
   partition on both sides -> the suffixes whose hash differs. A suffix only
   we hold differs; a suffix only the peer holds is the peer's to push.
2. ``plan_suffix(local, remote)``: for the differing suffixes, the file names
   of every hash directory on both sides -> the files to push. A local file
   is pushed when the peer lacks it and it would still count on the peer
   after merging, by the same rules the disk follows
   (``storage.diskfile.gather_files``): a newer ``.data`` or ``.ts`` beats an
   older one, a ``.meta`` counts only over an older ``.data``. So "the peer
   lacks it or holds it older" is decided by the on-disk contract itself,
   never by a second copy of it.

Durable files (``.data``/``.ts``) come before the ``.meta`` of the same
object, so that a peer never holds metadata waiting for its body longer
than one request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from storage.diskfile import META, gather_files

SuffixHashes = Mapping[str, str]  # suffix -> md5 of its files (REPLICATE)
SuffixListing = Mapping[str, Sequence[str]]  # object hash -> file names


@dataclass(frozen=True)
class Push:
    """Send one file of one object (with its metadata) to a peer."""

    suffix: str
    hash: str
    filename: str

    @property
    def ext(self) -> str:
        return "." + self.filename.rpartition(".")[2]


@dataclass(frozen=True)
class PartitionPlan:
    """What one pass does for one (partition, peer) pair."""

    suffixes: tuple[str, ...]  # to compare file by file (and rehash on the peer)
    pushes: tuple[Push, ...] = ()


def suffixes_to_sync(local: SuffixHashes, remote: SuffixHashes) -> tuple[str, ...]:
    """The suffixes we hold whose hash the peer does not share, sorted."""
    return tuple(sorted(s for s, h in local.items() if remote.get(s) != h))


def files_to_push(local_names: Sequence[str], remote_names: Sequence[str]) -> list[str]:
    """The local files of one hash directory the peer should receive.

    Merge both sides' names and keep what counts (``gather_files``); what
    counts and is ours alone is what the peer lacks or holds older.
    """
    remote = set(remote_names)
    local_kept = gather_files(list(local_names)).kept
    merged = gather_files(sorted(remote | set(local_kept)))
    wanted = [name for name in merged.kept if name not in remote and name in local_kept]
    # .data/.ts first, then .meta (gather_files' kept order is ts, data, meta).
    return sorted(wanted, key=lambda name: name.endswith(META))


def plan_suffix(suffix: str, local: SuffixListing, remote: SuffixListing) -> list[Push]:
    """Pushes for one suffix, in hash order."""
    pushes: list[Push] = []
    for hash_ in sorted(local):
        for name in files_to_push(local[hash_], remote.get(hash_, ())):
            pushes.append(Push(suffix, hash_, name))
    return pushes


def plan_partition(
    local_hashes: SuffixHashes,
    remote_hashes: SuffixHashes,
    local_listing: Mapping[str, SuffixListing],
    remote_listing: Mapping[str, SuffixListing],
) -> PartitionPlan:
    """The whole plan for one peer, once both listings of the differing
    suffixes are known (``local_listing``/``remote_listing``: suffix ->
    hash -> names)."""
    suffixes = suffixes_to_sync(local_hashes, remote_hashes)
    pushes: list[Push] = []
    for suffix in suffixes:
        pushes.extend(plan_suffix(suffix, local_listing.get(suffix, {}), remote_listing.get(suffix, {})))
    return PartitionPlan(suffixes, tuple(pushes))


def in_sync(local: SuffixListing, remote: SuffixListing) -> bool:
    """True when the peer needs nothing of ours for these hash directories."""
    return not any(files_to_push(names, remote.get(h, ())) for h, names in local.items())
