"""Quorum arithmetic and the choice of one answer among the replicas'.

Pure: the fan-out collects ``Reply`` records and asks here what the client
should see.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from martlet.quorum import quorum_size
from martlet.timestamp import Timestamp

SERVICE_UNAVAILABLE = 503


@dataclass(frozen=True)
class Reply:
    """One backend's answer to a write (status 503 stands for no answer)."""

    status: int
    etag: str | None = None
    timestamp: str | None = None


def status_class(status: int) -> int:
    return status // 100


def best_status(statuses: list[int], quorum: int) -> int:
    """The status a quorum agrees on, by class; 503 when no class has quorum.

    Within the winning class the most common status wins, the higher one on a
    tie (so that 409 beats 404 the way Swift reports conflicts). A quorum of
    5xx is reported as 503.
    """
    by_class: dict[int, list[int]] = {}
    for status in statuses:
        by_class.setdefault(status_class(status), []).append(status)
    for cls in (2, 3, 4):
        members = by_class.get(cls, [])
        if len(members) >= quorum:
            counts = Counter(members)
            return max(counts, key=lambda s: (counts[s], s))
    return SERVICE_UNAVAILABLE


def quorum_etag(replies: list[Reply], quorum: int) -> str | None:
    """The ETag when at least a quorum of successful replies agree on it."""
    etags = Counter(r.etag for r in replies if 200 <= r.status < 300 and r.etag)
    if not etags:
        return None
    etag, count = etags.most_common(1)[0]
    return etag if count >= quorum else None


@dataclass(frozen=True)
class Written:
    """Every replica's reply to one write: what the client is told comes
    from the status (and ETag) a quorum of them agree on."""

    replies: list[Reply]
    replicas: int

    @property
    def quorum(self) -> int:
        return quorum_size(self.replicas)

    @property
    def status(self) -> int:
        return best_status([r.status for r in self.replies], self.quorum)

    @property
    def etag(self) -> str | None:
        return quorum_etag(self.replies, self.quorum)


def newest(timestamps: list[str | None]) -> int | None:
    """Index of the newest parseable timestamp, or None."""
    best: tuple[Timestamp, int] | None = None
    for index, text in enumerate(timestamps):
        if not text:
            continue
        try:
            stamp = Timestamp.parse(text)
        except Exception:  # a garbled backend header is simply not a candidate
            continue
        if best is None or stamp > best[0]:
            best = (stamp, index)
    return None if best is None else best[1]


def is_newer(candidate: str | None, than: str | None) -> bool:
    """Is timestamp text ``candidate`` strictly newer than ``than``?"""
    if not candidate:
        return False
    if not than:
        return True
    try:
        return Timestamp.parse(candidate) > Timestamp.parse(than)
    except Exception:
        return False
