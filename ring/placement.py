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

_REPAIR_ROUNDS = 24
_RELAY_EXPANSIONS = 48
_MAX_RELAYS = 256


class Placement:
    def __init__(self, assignment: np.ndarray, tree: TierTree, movable: np.ndarray, rng: np.random.Generator):
        self.a = assignment
        self.tree = tree
        self.rng = rng
        self.replicas, self.partitions = assignment.shape
        self.may_move = movable.copy()  # partition may still give up one replica
        self.fresh = np.zeros(assignment.shape, dtype=bool)  # placed in this rebalance
        self.ndev = len(tree.device_quota)
        self.before = assignment.copy()  # to undo a move when swapping sources

    # -- bookkeeping ---------------------------------------------------------
    def device_counts(self) -> np.ndarray:
        held = self.a[self.a >= 0]
        return np.bincount(held, minlength=self.ndev)[: self.ndev]

    def _release(self, rows: np.ndarray, parts: np.ndarray) -> None:
        """Unassign: a move to nowhere, placed later in this rebalance."""
        self._move(rows, parts, -1)

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
        one up. Which one: a replica crowded at the highest tier, and among
        those the one crowded at the most tiers below (one move then fixes
        them all); between equals, within each device's excess over its
        quota where possible, so the release also serves balance."""
        score = np.zeros(self.a.shape, dtype=np.int64)
        for level in range(1, DEVICE_LEVEL + 1):
            nodes = self.tree.node_of[level][self.a]
            for r in range(self.replicas):
                same = (nodes == nodes[r]).sum(axis=0)
                # Draining devices (hi 0) are emptied by the quota moves.
                crowded = (nodes[r] >= 0) & (same > np.maximum(self.tree.hi[level][nodes[r]], 1))
                score[r] += crowded * (1 << (DEVICE_LEVEL + 1 - level))
        best = (score > 0) & (score == score.max(axis=0)) & self.may_move[None, :]
        for _ in range(4):
            rows, parts = np.nonzero(best & self.may_move[None, :])
            if rows.size == 0:
                return
            excess = np.append(self.device_counts() - self.tree.device_quota, 0)
            pick = self._pick_per_source(rows, parts, self.a[rows, parts], np.maximum(excess, 0))
            if pick.size == 0:
                break
            self._release(rows[pick], parts[pick])
        excess = np.append(self.device_counts() - self.tree.device_quota, 0)
        left = np.flatnonzero((best & self.may_move[None, :]).any(axis=0))
        if left.size:
            row = np.where(best, excess[self.a], np.iinfo(np.int64).min).argmax(axis=0)
            self._release(row[left], left)

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
        each source's excess. When no direct move is legal (say the only
        over-full device is in a region every candidate partition is already
        full in), a two-hop move through a device at quota is looked for.
        """
        quota = self.tree.device_quota
        for _ in range(_REPAIR_ROUNDS):
            diff = self.device_counts() - quota
            under = np.flatnonzero(diff < 0)
            if under.size == 0:
                return
            allowance = np.append(np.maximum(diff, 0), 0)
            rows, parts = np.nonzero((allowance[self.a] > 0) & self._movable_slots())
            if rows.size == 0:
                if self._swap_sources(diff):
                    continue
                return
            order = self.rng.permutation(rows.size)
            rows, parts = rows[order], parts[order]
            taken = np.zeros(rows.size, dtype=bool)
            part_done = np.zeros(self.partitions, dtype=bool)
            under = under[np.argsort(diff[under], kind="stable")]
            limits = self._share_scarce_partitions(diff, under, rows, parts, allowance)
            moved = 0
            for i, u in enumerate(under):
                limit = None if limits is None else limits[:, i]
                need = int(-diff[u]) if limit is None else min(int(-diff[u]), int(limit.sum()))
                moved += self._draw(int(u), need, rows, parts, taken, part_done, allowance, limit)
            if moved == 0:
                if self._swap_sources(self.device_counts() - quota):
                    continue
                relayed = 0
                while relayed < _MAX_RELAYS and self._relay(self.device_counts() - quota):
                    relayed += 1
                if relayed == 0:
                    return

    def _share_scarce_partitions(
        self, diff: np.ndarray, under: np.ndarray, rows: np.ndarray, parts: np.ndarray, allowance: np.ndarray
    ) -> np.ndarray | None:
        """When fewer partitions may move than replicas are wanted (one
        replica per partition per rebalance binds), give every device below
        quota the same fraction of its deficit, and take from each source
        the same fraction of its excess, following one plan for the whole
        move scaled down. Filling destinations one after another would
        leave the last with nothing, and drawing sources at random would
        spend the scarce partitions on sources that had other outlets while
        a source with a single legal destination keeps its excess; either
        way the remainder could then need more than one more rebalance.

        Returns ``(ndev + 1, len(under))`` caps on moves from each source to
        each device below quota, or None when partitions are not scarce."""
        wanted = int(-diff[under].sum())
        available = int(np.unique(parts).size)
        if wanted <= available:
            return None
        fraction = available / wanted
        # Which sources can reach which destinations, judged on a sample
        # of every source's movable replicas.
        src = self.a[rows, parts]
        sample = self._pick_per_source(rows, parts, src, np.full(self.ndev + 1, 64))
        s_rows, s_parts, s_src = rows[sample], parts[sample], src[sample]
        reach = np.zeros((self.ndev + 1, under.size), dtype=bool)
        for i, u in enumerate(under):
            ok = self._legal_for(int(u), s_rows, s_parts)
            reach[np.unique(s_src[ok]), i] = True
        plan = np.zeros((self.ndev + 1, under.size))
        left = (-diff[under]).astype(float)
        sources = np.flatnonzero(allowance > 0)
        # Sources with the fewest outlets first, so that they keep theirs.
        for s in sources[np.argsort(reach[sources].sum(axis=1), kind="stable")]:
            open_ = reach[s] & (left > 0)
            if not open_.any():
                continue
            give = np.minimum(allowance[s] * left * open_ / left[open_].sum(), left)
            plan[s] = give
            left -= give
        return np.ceil(plan * fraction).astype(np.int64)

    def _swap_sources(self, diff: np.ndarray) -> bool:
        """When a device x above quota has no movable replica left that a
        device u below quota can take (typically when every partition must
        move once, so the last partitions hold only sources already at
        quota), change the source of an earlier move: a partition q that
        moved its replica on y to w and also holds one on x moves x's to w
        instead and keeps y's, which frees y for an untouched partition p
        to move its replica on y to u. Net x -1, u +1, still one replica
        moved in each of p and q."""
        changed_rows, changed_parts = np.nonzero((self.a != self.before) & (self.before >= 0))
        if changed_rows.size == 0:
            return False
        done = False
        for x in np.flatnonzero(diff > 0)[:16]:
            holds_x = (self.a[:, changed_parts] == x).any(axis=0)
            q_rows, q_parts = changed_rows[holds_x], changed_parts[holds_x]
            if q_rows.size == 0:
                continue
            x_rows = (self.a[:, q_parts] == x).argmax(axis=0)
            y, w = self.before[q_rows, q_parts], self.a[q_rows, q_parts]
            after = self.a[:, q_parts].copy()
            at = np.arange(q_parts.size)
            after[q_rows, at], after[x_rows, at] = y, w
            fits = self._dispersed(after) & (x_rows != q_rows)
            q_rows, q_parts, x_rows, y, w = q_rows[fits], q_parts[fits], x_rows[fits], y[fits], w[fits]
            for u in np.flatnonzero(diff < 0)[:16]:
                want = int(min(diff[x], -diff[u]))
                # q moved u's own replica away: keeping it needs no p.
                q_sel = np.flatnonzero((y == u) & (q_parts >= 0))[:want]
                if q_sel.size and want > 0:
                    self.a[q_rows[q_sel], q_parts[q_sel]] = u
                    self.fresh[q_rows[q_sel], q_parts[q_sel]] = False
                    self._move(x_rows[q_sel], q_parts[q_sel], w[q_sel])
                    q_parts[q_sel] = -1
                    diff[x] -= q_sel.size
                    diff[u] += q_sel.size
                    want -= q_sel.size
                    done = True
                p_rows, p_parts = np.nonzero(np.isin(self.a, y) & self.may_move[None, :])
                ok = self._legal_for(int(u), p_rows, p_parts)
                p_rows, p_parts = p_rows[ok], p_parts[ok]
                for dev in np.unique(self.a[p_rows, p_parts]):
                    if want <= 0:
                        break
                    # may_move drops as p partitions are used: one move each.
                    p_sel = np.flatnonzero((self.a[p_rows, p_parts] == dev) & self.may_move[p_parts])
                    _, first = np.unique(p_parts[p_sel], return_index=True)
                    p_sel = p_sel[first]
                    q_sel = np.flatnonzero((y == dev) & (q_parts >= 0))
                    n = min(want, p_sel.size, q_sel.size)
                    if n == 0:
                        continue
                    p_sel, q_sel = p_sel[:n], q_sel[:n]
                    self.a[q_rows[q_sel], q_parts[q_sel]] = dev
                    self.fresh[q_rows[q_sel], q_parts[q_sel]] = False
                    self._move(x_rows[q_sel], q_parts[q_sel], w[q_sel])
                    self._move(p_rows[p_sel], p_parts[p_sel], int(u))
                    q_parts[q_sel] = -1  # each q serves one swap
                    diff[x] -= n
                    diff[u] += n
                    want -= n
                    done = True
        return done

    def _dispersed(self, cols: np.ndarray) -> np.ndarray:
        """Per column of device ids (one partition's replicas), is every
        tier within its ``hi``?"""
        ok = np.ones(cols.shape[1], dtype=bool)
        for level in range(1, DEVICE_LEVEL + 1):
            nodes = self.tree.node_of[level][cols]
            for r in range(cols.shape[0]):
                ok &= (nodes == nodes[r]).sum(axis=0) <= self.tree.hi[level][nodes[r]]
        return ok

    def _relay(self, diff: np.ndarray) -> bool:
        """Find and make one chain of moves over-full -> x1 -> ... -> u for
        some under-full device u, each hop a different partition's movable
        replica moving legally onto the next device; the devices in between
        stay at quota. A backwards breadth-first search from u, bounded so a
        hopeless search on a big ring stays cheap."""
        all_rows, all_parts = np.nonzero(self._movable_slots())
        if all_rows.size == 0:
            return False
        holder = self.a[all_rows, all_parts]
        for u in self.rng.permutation(np.flatnonzero(diff < 0)):
            # next_hop[x] = (slot index moving off x, device it moves to)
            next_hop: dict[int, tuple[int, int]] = {}
            path_parts: dict[int, set[int]] = {int(u): set()}
            queue = [int(u)]
            expanded = 0
            while expanded < min(len(queue), _RELAY_EXPANSIONS):
                y = queue[expanded]
                expanded += 1
                legal = np.flatnonzero(self._legal_for(y, all_rows, all_parts))
                legal = legal[~np.isin(all_parts[legal], list(path_parts[y]))]
                legal = legal[self.rng.permutation(legal.size)]
                sources = holder[legal]
                over = np.flatnonzero(diff[sources] > 0)
                if over.size:
                    self._follow(legal[over[0]], y, next_hop, all_rows, all_parts)
                    return True
                for slot, x in zip(legal.tolist(), sources.tolist()):
                    if x not in path_parts and diff[x] == 0:
                        next_hop[x] = (slot, y)
                        path_parts[x] = path_parts[y] | {int(all_parts[slot])}
                        queue.append(x)
        return False

    def _follow(
        self, slot: int, dest: int, next_hop: dict[int, tuple[int, int]], rows: np.ndarray, parts: np.ndarray
    ) -> None:
        """Move along the path found, as many units as every hop allows (up
        to the source's excess), each hop with partitions of its own. The
        last hop may feed every device below quota, not just the one the
        search started from, so one search can settle many small deficits."""
        path = [int(self.a[rows[slot], parts[slot]]), dest]
        while path[-1] in next_hop:
            path.append(next_hop[path[-1]][1])
        diff = self.device_counts() - self.tree.device_quota
        under = np.flatnonzero(diff < 0)
        want = int(min(diff[path[0]], -diff[under].sum()))
        movable = self._movable_slots()
        used = np.zeros(self.partitions, dtype=bool)
        hops: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for source, target in zip(path[:-1], path[1:]):
            h_rows, h_parts = np.nonzero((self.a == source) & movable)
            last = target == path[-1]
            targets = [target] + ([int(u) for u in under if u != target] if last else [])
            picked: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            for t in targets:
                room = want if not last else int(-diff[t])
                ok = np.flatnonzero(self._legal_for(t, h_rows, h_parts) & ~used[h_parts])
                ok = ok[self.rng.permutation(ok.size)]
                _, first = np.unique(h_parts[ok], return_index=True)
                ok = ok[np.sort(first)][:room]
                used[h_parts[ok]] = True
                picked.append((h_rows[ok], h_parts[ok], np.full(ok.size, t)))
            # Each hop is (rows, parts, targets); mypy cannot see that tuple() of a
            # zip over 3-tuples has three items.
            hops.append(tuple(np.concatenate(c) for c in zip(*picked)))  # type: ignore[arg-type]
        count = min(want, *(h[0].size for h in hops))
        for h_rows, h_parts, h_targets in hops:
            for t in np.unique(h_targets[:count]):
                sel = np.flatnonzero(h_targets[:count] == t)
                self._move(h_rows[sel], h_parts[sel], int(t))

    def _move(self, rows: np.ndarray, parts: np.ndarray, dev: int) -> None:
        self.a[rows, parts] = dev
        self.fresh[rows, parts] = True
        self.may_move[parts] = False

    def _draw(
        self,
        u: int,
        need: int,
        rows: np.ndarray,
        parts: np.ndarray,
        taken: np.ndarray,
        part_done: np.ndarray,
        allowance: np.ndarray,
        limit: np.ndarray | None = None,
    ) -> int:
        """Move up to ``need`` candidate replicas onto device ``u``, at most
        ``allowance`` (and ``limit``, if given) from each source."""
        if need <= 0:
            return 0
        size = max(8 * need, 4096)
        got = 0
        while True:
            cap = allowance if limit is None else np.minimum(allowance, limit)
            if size >= rows.size:
                sample = np.arange(rows.size)
            else:
                sample = (int(self.rng.integers(rows.size)) + np.arange(size)) % rows.size
            sample = sample[~taken[sample] & ~part_done[parts[sample]]]
            sample = sample[cap[self.a[rows[sample], parts[sample]]] > 0]
            ok = self._legal_for(u, rows[sample], parts[sample])
            cand = sample[ok]
            if cand.size:
                source = self.a[rows[cand], parts[cand]]
                pick = cand[self._pick_per_source(rows[cand], parts[cand], source, cap)][: need - got]
                src = self.a[rows[pick], parts[pick]]
                self._move(rows[pick], parts[pick], u)
                used = np.bincount(src, minlength=self.ndev)[: self.ndev]
                allowance[:-1] -= used
                if limit is not None:
                    limit[:-1] -= used
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
    # Node ids fit in 16 bits (device ids do, and there are no more tiers
    # than devices); numpy radix-sorts 16-bit keys in linear time.
    order = np.argsort(chosen.astype(np.uint16), kind="stable")
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
    tiebreak = rng.random((n,))  # a shape tuple: the stubs read a bare size as a scalar draw
    options = allowed & (room > 0)[None, :]
    n_options: np.ndarray = options.sum(axis=1).astype(float)
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
