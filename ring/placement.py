"""One rebalance's working state: gather replicas that must or should move,
place them, then even out what placement could not fit exactly.

The assignment is an ``(replicas, partitions)`` int array of device ids, -1
for "unassigned". Everything is vectorised over partitions with numpy; the
Python loops run over tiers and devices, never over partitions.

Rules every step keeps:

- a replica only moves if its partition may move: it last moved at least
  ``min_part_hours`` ago and no other replica of it moved in this rebalance
  (replicas on removed devices are exempt: they have nowhere to stay);
- a replica placed in this rebalance may be re-placed in the same rebalance,
  which is still one move of one replica;
- a replica is only ever placed where its partition stays within every
  tier's ``hi`` (see ``ring.tiers``), so new placements are always as
  dispersed as the cluster allows.
"""

from __future__ import annotations

import numpy as np

from martlet.errors import RingError

from ring.tiers import DEVICE_LEVEL, TierTree

_REPAIR_ROUNDS = 12


class Placement:
    def __init__(self, assignment: np.ndarray, tree: TierTree, movable: np.ndarray, rng: np.random.Generator):
        self.a = assignment
        self.tree = tree
        self.rng = rng
        self.replicas, self.partitions = assignment.shape
        self.may_move = movable.copy()  # partition may still give up one replica
        self.fresh = np.zeros(assignment.shape, dtype=bool)  # placed in this rebalance
        self.touched = np.zeros(self.partitions, dtype=bool)
        self.ndev = len(tree.device_quota)

    # -- bookkeeping ---------------------------------------------------------
    def device_counts(self) -> np.ndarray:
        held = self.a[self.a >= 0]
        return np.bincount(held, minlength=self.ndev)[: self.ndev]

    def _release(self, rows: np.ndarray, parts: np.ndarray) -> None:
        self.a[rows, parts] = -1
        self.fresh[rows, parts] = True
        self.may_move[parts] = False
        self.touched[parts] = True

    def _movable_slots(self) -> np.ndarray:
        """(replicas, partitions) mask of replicas that may move now."""
        return self.fresh | self.may_move[None, :]

    # -- gathering -----------------------------------------------------------
    def release_lost(self, live: np.ndarray) -> None:
        """Replicas on removed devices (or never assigned) must be placed."""
        lost = ~live[self.a]  # live has a trailing False for id -1
        rows, parts = np.nonzero(lost)
        self._release(rows, parts)

    def release_for_dispersion(self) -> None:
        """Partitions with more replicas in some tier than its ``hi`` give
        one up: the one on the most over-full device."""
        excess = np.append(self.device_counts() - self.tree.device_quota, -(1 << 40))
        for level in range(1, DEVICE_LEVEL + 1):
            nodes = self.tree.node_of[level][self.a]
            crowded = np.zeros(self.a.shape, dtype=bool)
            for r in range(self.replicas):
                same = (nodes == nodes[r]).sum(axis=0)
                # Draining devices (hi 0) are emptied by release_overweight.
                crowded[r] = (nodes[r] >= 0) & (same > np.maximum(self.tree.hi[level][nodes[r]], 1))
            score = np.where(crowded, excess[self.a], np.iinfo(np.int64).min)
            row = score.argmax(axis=0)
            parts = np.flatnonzero(crowded.any(axis=0) & self.may_move)
            if parts.size:
                self._release(row[parts], parts)

    def release_overweight(self) -> None:
        """Devices above their quota give up the excess, picked at random
        among partitions that may move, one replica per partition."""
        for _ in range(3):
            excess = self.device_counts() - self.tree.device_quota
            excess = np.append(excess, 0)
            rows, parts = np.nonzero((excess[self.a] > 0) & self.may_move[None, :])
            if rows.size == 0:
                return
            keep = self._pick_per_source(rows, parts, self.a[rows, parts], excess)
            if keep.size == 0:
                return
            self._release(rows[keep], parts[keep])

    def _pick_per_source(
        self, rows: np.ndarray, parts: np.ndarray, source: np.ndarray, allowance: np.ndarray
    ) -> np.ndarray:
        """Random candidates, at most ``allowance[source]`` per source device
        and one per partition; returns indices into the candidate arrays."""
        shuffled = self.rng.permutation(rows.size)
        by_source = shuffled[np.argsort(source[shuffled], kind="stable")]
        src = source[by_source]
        starts = np.r_[0, np.flatnonzero(np.diff(src)) + 1]
        rank = np.arange(src.size) - np.repeat(starts, np.diff(np.r_[starts, src.size]))
        chosen = by_source[rank < allowance[src]]
        # One per partition; keep the random order so the survivors are fair.
        chosen = chosen[np.argsort(self.rng.random(chosen.size))]
        _, first = np.unique(parts[chosen], return_index=True)
        return chosen[np.sort(first)]

    # -- placing -------------------------------------------------------------
    def place_unassigned(self) -> None:
        """Place every -1 replica, in rounds of at most one per partition so
        that the per-partition tier counts seen by a round are exact."""
        tree = self.tree
        room = [tree.quota[level] - self._level_counts(level) for level in range(DEVICE_LEVEL + 1)]
        free = self.a < 0
        rank = np.cumsum(free, axis=0) - 1
        for round_no in range(self.replicas):
            rows, parts = np.nonzero(free & (rank == round_no))
            if rows.size:
                self._place_round(rows, parts, room)

    def _level_counts(self, level: int) -> np.ndarray:
        counts = self.device_counts()
        nodes = self.tree.node_of[level][: self.ndev]
        valid = nodes >= 0
        size = len(self.tree.quota[level])
        return np.bincount(nodes[valid], weights=counts[valid], minlength=size).astype(np.int64)

    def _place_round(self, rows: np.ndarray, parts: np.ndarray, room: list[np.ndarray]) -> None:
        groups: list[tuple[int, np.ndarray]] = [(0, np.arange(rows.size))]
        chosen = np.zeros(rows.size, dtype=np.int64)
        for level in range(1, DEVICE_LEVEL + 1):
            for parent, idx in groups:
                kids = self.tree.children[level - 1][parent]
                allowed = self._tier_counts(level, parts[idx], kids) < self.tree.hi[level][kids]
                kid_room = room[level][kids]
                local = choose_children(allowed, kid_room, self.rng)
                room[level][kids] = kid_room
                if (local < 0).any():
                    raise RingError("internal error: no legal device for a replica")
                chosen[idx] = kids[local]
            groups = _group_by(chosen)
        self.a[rows, parts] = chosen
        self.fresh[rows, parts] = True

    def _tier_counts(self, level: int, parts: np.ndarray, kids: np.ndarray) -> np.ndarray:
        """(len(parts), len(kids)): replicas each partition has under each kid."""
        local = np.full(len(self.tree.quota[level]) + 1, -1, dtype=np.int64)
        local[kids] = np.arange(kids.size)
        counts = np.zeros((parts.size, kids.size), dtype=np.int16)
        at = np.arange(parts.size)
        for r in range(self.replicas):
            col = local[self.tree.node_of[level][self.a[r, parts]]]
            ok = col >= 0
            counts[at[ok], col[ok]] += 1
        return counts

    # -- evening out -----------------------------------------------------------
    def move_to_quota(self) -> None:
        """Move replicas straight from devices above quota to devices below
        it, where dispersion allows: each move is one replica the balance
        needs moved, so adding capacity moves about its share and no more.

        Each device below quota draws a random sample of the movable
        replicas on devices above quota and takes the legal ones, at most
        each source's excess. When a round makes no progress (every legal
        source for some device is at quota), one round may take from devices
        *at* quota; the deficit then sits on a device that can draw directly.
        """
        quota = self.tree.device_quota
        chain = False
        for _ in range(_REPAIR_ROUNDS):
            diff = self.device_counts() - quota
            under = np.flatnonzero(diff < 0)
            if under.size == 0:
                return
            floor = -1 if chain else 0
            allowance = np.append(np.where(diff > floor, diff - floor, 0), 0)
            rows, parts = np.nonzero((allowance[self.a] > 0) & self._movable_slots())
            if rows.size == 0:
                return
            order = self.rng.permutation(rows.size)
            rows, parts = rows[order], parts[order]
            taken = np.zeros(rows.size, dtype=bool)
            part_done = np.zeros(self.partitions, dtype=bool)
            moved = 0
            for u in under[np.argsort(diff[under], kind="stable")]:
                need = int(-diff[u])
                if chain:
                    need = 1
                got = self._draw(u, need, rows, parts, taken, part_done, allowance)
                diff[u] += got
                moved += got
            if moved == 0 and chain:
                return
            chain = moved == 0

    def _draw(
        self,
        u: int,
        need: int,
        rows: np.ndarray,
        parts: np.ndarray,
        taken: np.ndarray,
        part_done: np.ndarray,
        allowance: np.ndarray,
    ) -> int:
        """Move up to ``need`` candidate replicas onto device ``u``."""
        size = max(8 * need, 4096)
        got = 0
        while True:
            if size >= rows.size:
                sample = np.arange(rows.size)
            else:
                sample = (int(self.rng.integers(rows.size)) + np.arange(size)) % rows.size
            sample = sample[~taken[sample] & ~part_done[parts[sample]]]
            sample = sample[allowance[self.a[rows[sample], parts[sample]]] > 0]
            ok = self._legal_for(u, rows[sample], parts[sample])
            cand = sample[ok]
            if cand.size:
                source = self.a[rows[cand], parts[cand]]
                pick = cand[self._pick_per_source(rows[cand], parts[cand], source, allowance)][: need - got]
                src = self.a[rows[pick], parts[pick]]
                self.a[rows[pick], parts[pick]] = u
                self.fresh[rows[pick], parts[pick]] = True
                self.may_move[parts[pick]] = False
                self.touched[parts[pick]] = True
                allowance[:-1] -= np.bincount(src, minlength=self.ndev)[: self.ndev]
                taken[pick] = True
                part_done[parts[pick]] = True
                got += pick.size
            if got >= need or size >= rows.size:
                return got
            size *= 4

    def _legal_for(self, u: int, rows: np.ndarray, parts: np.ndarray) -> np.ndarray:
        """Would moving replica (row, part) onto device ``u`` keep every tier
        of the partition within its ``hi``?"""
        ok = np.ones(rows.size, dtype=bool)
        held = self.a[:, parts]
        at = np.arange(rows.size)
        for level in range(1, DEVICE_LEVEL + 1):
            node_of = self.tree.node_of[level]
            node = node_of[u]
            nodes = node_of[held]
            count = (nodes == node).sum(axis=0) - (nodes[rows, at] == node)
            ok &= count < self.tree.hi[level][node]
        return ok


def _group_by(chosen: np.ndarray) -> list[tuple[int, np.ndarray]]:
    order = np.argsort(chosen, kind="stable")
    values = chosen[order]
    starts = np.r_[0, np.flatnonzero(np.diff(values)) + 1]
    return [(int(values[s]), idx) for s, idx in zip(starts, np.split(order, starts[1:]))]


def choose_children(allowed: np.ndarray, room: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pick a child for each replica (row): one it is ``allowed`` under,
    filling each child's ``room`` (updated in place).

    First pass: each child takes about its fair share of this round's
    replicas (room in proportion), scarcest child first, and prefers the
    replicas with the fewest other options, so that few are left stranded.
    Then leftovers go where room remains; only if none does, to the allowed
    child that is least over its quota.
    """
    n, k = allowed.shape
    pick = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return pick
    tiebreak = rng.random(n)
    options = allowed & (room > 0)[None, :]
    n_options = options.sum(axis=1).astype(float)
    positive = np.maximum(room, 0)
    total = int(positive.sum())
    fair = positive if total <= n else -(-positive * n // total)
    eligible = options.sum(axis=0)
    for c in np.argsort(eligible / np.maximum(fair, 1), kind="stable"):
        take = int(min(fair[c], room[c]))
        if take <= 0:
            continue
        cand = np.flatnonzero(options[:, c] & (pick < 0))
        if cand.size > take:
            key = n_options[cand] + tiebreak[cand]
            chosen = cand[np.argpartition(key, take - 1)[:take]]
        else:
            chosen = cand
        pick[chosen] = c
        room[c] -= chosen.size
        n_options[cand] -= 1
    _fill_leftovers(pick, allowed, room, tiebreak, within_room=True)
    _fill_leftovers(pick, allowed, room, tiebreak, within_room=False)
    return pick


def _fill_leftovers(
    pick: np.ndarray, allowed: np.ndarray, room: np.ndarray, tiebreak: np.ndarray, within_room: bool
) -> None:
    for _ in range(64):
        left = np.flatnonzero(pick < 0)
        if left.size == 0:
            return
        ok = allowed[left] & ((room > 0)[None, :] if within_room else True)
        has = ok.any(axis=1)
        if not has.any():
            return
        left, ok = left[has], ok[has]
        score = np.where(ok, room[None, :] + tiebreak[left, None] * 0.5, -np.inf)
        want = score.argmax(axis=1)
        order = np.argsort(want, kind="stable")
        kids = want[order]
        starts = np.r_[0, np.flatnonzero(np.diff(kids)) + 1]
        rank = np.arange(kids.size) - np.repeat(starts, np.diff(np.r_[starts, kids.size]))
        # Overfilling: spread the leftovers rather than pile them on one child.
        limit = np.maximum(room[kids], 0 if within_room else -(-left.size // room.size))
        accept = order[rank < limit]
        if accept.size == 0:
            return
        pick[left[accept]] = want[accept]
        room -= np.bincount(want[accept], minlength=room.size)
