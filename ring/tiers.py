"""The failure-domain tree of a builder's devices, and what each node is owed.

Levels: 0 root, 1 region, 2 zone, 3 ip (one storage node), 4 device. For
every node the tree knows three things, computed top-down:

``hi``     the most replicas of one partition the node may hold. Replicas are
           spread "as uniquely as possible": a node's ``hi`` is shared among
           its children as evenly as their own capacity (number of devices
           with weight) allows. E.g. 3 replicas over 2 regions gives each
           region at most 2; over 4 zones each zone at most 1. This is
           placement's hard constraint and what dispersion is measured
           against.
``share``  the replicas per partition the node should hold on average: its
           parent's share split by weight, except that no child is given
           more than its ``hi``; what a capped child cannot take goes to its
           siblings, again by weight. When weights and dispersion conflict
           (one zone holds more than 1/replicas of the weight), dispersion
           wins, so the big zone holds less and the others more than their
           weights alone say. Balance is measured against this share.
``quota``  ``share * partitions`` rounded to whole partition-replicas, such
           that children's quotas add up to their parent's exactly and each
           is within one of its exact share. Rounding prefers to round up
           nodes that already hold more, so rounding alone moves nothing.

Only devices with weight count towards capacity: a weight-0 device (draining)
and every tier that holds only such devices have ``hi == 0`` and a quota of 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from martlet.errors import RingError

from ring.device import Device

LEVELS = ("root", "region", "zone", "ip", "device")
DEVICE_LEVEL = 4
# Shares within this of an integer are that integer (float noise from the
# water-filling would otherwise turn an exact 4096.0 into 4095.9999).
_EPS = 1e-7


@dataclass
class TierTree:
    """Per level L (0..4), arrays indexed by node id at that level.

    ``node_of[L]`` maps a device id to its node at level L and has one extra
    trailing -1, so that indexing it with the "unassigned" id -1 yields -1.
    ``hi[L]`` likewise has a trailing 0 for the -1 node. Device-level node
    ids are device ids.
    """

    node_of: list[np.ndarray]
    parent: list[np.ndarray]
    children: list[list[np.ndarray]]  # children[L][n]: nodes at L+1 under node n at L
    hi: list[np.ndarray]
    share: list[np.ndarray]
    quota: list[np.ndarray]
    weight: list[np.ndarray]

    @property
    def device_quota(self) -> np.ndarray:
        return self.quota[DEVICE_LEVEL]

    @property
    def device_share(self) -> np.ndarray:
        return self.share[DEVICE_LEVEL]


def _tier_keys(dev: Device) -> tuple[tuple[object, ...], ...]:
    return ((), (dev.region,), (dev.region, dev.zone), (dev.region, dev.zone, dev.ip))


def build_tiers(
    devices: Sequence[Device | None],
    replicas: int,
    partitions: int,
    counts: np.ndarray | None = None,
) -> TierTree:
    """Tree, caps, shares and quotas for these devices.

    ``counts`` (partition-replicas per device id, as now assigned) only
    steers rounding towards the current state; None means a first build.
    """
    ndev = len(devices)
    live = [d for d in devices if d is not None]
    weighted = sum(1 for d in live if d.weight > 0)
    if weighted < replicas:
        raise RingError(
            f"{replicas} replicas need at least {replicas} devices with weight, found {weighted}"
        )
    node_of = [np.full(ndev + 1, -1, dtype=np.int64) for _ in LEVELS]
    parent: list[np.ndarray] = [np.full(1, -1, dtype=np.int64)]
    for d in live:
        node_of[0][d.id] = 0
        node_of[DEVICE_LEVEL][d.id] = d.id
    for level in range(1, DEVICE_LEVEL):
        keys = sorted({_tier_keys(d)[level] for d in live}, key=repr)
        index = {key: i for i, key in enumerate(keys)}
        parents = np.empty(len(keys), dtype=np.int64)
        for d in live:
            node = index[_tier_keys(d)[level]]
            node_of[level][d.id] = node
            parents[node] = node_of[level - 1][d.id]
        parent.append(parents)
    dev_parent = np.full(ndev, -1, dtype=np.int64)
    for d in live:
        dev_parent[d.id] = node_of[DEVICE_LEVEL - 1][d.id]
    parent.append(dev_parent)
    sizes = [1] + [len(p) for p in parent[1:]]
    children = [
        [np.flatnonzero(parent[level + 1] == n) for n in range(sizes[level])]
        for level in range(DEVICE_LEVEL)
    ]

    weight = _aggregate_up(
        parent, sizes, np.array([d.weight if d is not None else 0.0 for d in devices], dtype=float)
    )
    capacity = _aggregate_up(
        parent, sizes, np.array([1.0 if d is not None and d.weight > 0 else 0.0 for d in devices])
    )
    hi = _caps(children, capacity, replicas)
    share = _shares(children, weight, hi, replicas)
    held = None if counts is None else _aggregate_up(parent, sizes, counts.astype(float))
    quota = _quotas(children, share, hi, partitions, replicas, held)
    hi_padded = [np.append(h, 0) for h in hi]
    return TierTree(node_of, parent, children, hi_padded, share, quota, weight)


def _aggregate_up(parent: list[np.ndarray], sizes: list[int], leaf: np.ndarray) -> list[np.ndarray]:
    """Sum a per-device value into every level."""
    out: list[np.ndarray] = [np.zeros(0)] * len(LEVELS)
    out[DEVICE_LEVEL] = leaf
    for level in range(DEVICE_LEVEL, 0, -1):
        valid = parent[level] >= 0
        out[level - 1] = np.bincount(
            parent[level][valid], weights=out[level][valid], minlength=sizes[level - 1]
        )
    return out


def _caps(children: list[list[np.ndarray]], capacity: list[np.ndarray], replicas: int) -> list[np.ndarray]:
    """``hi``: split each node's cap as evenly as the children's capacity allows."""
    hi = [np.array([replicas], dtype=np.int64)] + [
        np.zeros(len(capacity[level]), dtype=np.int64) for level in range(1, len(LEVELS))
    ]
    for level in range(DEVICE_LEVEL):
        for node, kids in enumerate(children[level]):
            most = int(hi[level][node])
            if most == 0 or kids.size == 0:
                continue
            room = capacity[level + 1][kids].astype(np.int64)
            even = 1
            while np.minimum(even, room).sum() < most:
                even += 1
            hi[level + 1][kids] = np.minimum(even, room)
    return hi


def _water_fill(total: float, weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Split ``total`` by weight, no part above its cap; the excess of capped
    parts is re-split among the rest by weight."""
    out = np.zeros(weights.size)
    free = weights > 0
    remaining = total
    while free.any() and remaining > _EPS:
        trial = remaining * weights * free / weights[free].sum()
        over = free & (trial > caps + _EPS)
        if not over.any():
            out[free] = trial[free]
            break
        out[over] = caps[over]
        remaining -= caps[over].sum()
        free &= ~over
    return out


def _shares(
    children: list[list[np.ndarray]], weight: list[np.ndarray], hi: list[np.ndarray], replicas: int
) -> list[np.ndarray]:
    share = [np.array([float(replicas)])] + [np.zeros(len(w)) for w in weight[1:]]
    for level in range(DEVICE_LEVEL):
        for node, kids in enumerate(children[level]):
            if kids.size:
                share[level + 1][kids] = _water_fill(
                    share[level][node], weight[level + 1][kids], hi[level + 1][kids].astype(float)
                )
    return share


def _quotas(
    children: list[list[np.ndarray]],
    share: list[np.ndarray],
    hi: list[np.ndarray],
    partitions: int,
    replicas: int,
    held: list[np.ndarray] | None,
) -> list[np.ndarray]:
    quota = [np.array([replicas * partitions], dtype=np.int64)] + [
        np.zeros(len(s), dtype=np.int64) for s in share[1:]
    ]
    for level in range(DEVICE_LEVEL):
        for node, kids in enumerate(children[level]):
            if kids.size == 0:
                continue
            exact = share[level + 1][kids] * partitions
            now = None if held is None else held[level + 1][kids]
            quota[level + 1][kids] = _apportion(
                int(quota[level][node]), exact, hi[level + 1][kids] * partitions, now
            )
    return quota


def _apportion(total: int, exact: np.ndarray, limit: np.ndarray, held: np.ndarray | None) -> np.ndarray:
    """Round ``exact`` to integers summing to ``total``, each within one of
    its exact value and at most ``limit``. Extra units go first to children
    already holding more than the rounded-down value (so rounding does not
    force a move), then to the largest fractions."""
    rounded = np.round(exact)
    exact = np.where(np.abs(exact - rounded) < _EPS * np.maximum(1.0, exact), rounded, exact)
    base = np.floor(exact).astype(np.int64)
    frac = exact - base
    extra = total - int(base.sum())
    order_frac = np.argsort(-frac, kind="stable")
    if extra > 0:
        sticky = np.zeros(exact.size, dtype=bool) if held is None else held > base
        can_grow = base < limit
        first = np.flatnonzero((frac > 0) & can_grow)
        first = first[np.lexsort((-frac[first], ~sticky[first]))]
        in_first = set(first.tolist())
        rest = [i for i in order_frac if can_grow[i] and i not in in_first]
        chosen = (list(first) + rest)[:extra]
        if len(chosen) < extra:
            raise RingError("cannot apportion partitions within the dispersion caps")
        base[chosen] += 1
    elif extra < 0:
        for i in order_frac[::-1][: -extra]:
            base[i] -= 1
    if int(base.sum()) != total:
        raise RingError("internal error: quotas do not add up")
    return base
