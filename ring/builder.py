"""The ring builder: devices in, a balanced and dispersed assignment out.

A builder keeps its devices, the current assignment of every partition's
replicas and when each partition last moved; ``rebalance`` changes the
assignment as little as possible to follow added, removed or re-weighted
devices. It is pure: no files (``ring.ring_file`` saves and loads it) and no
clock (the time of a rebalance is an argument, so tests can advance it).

A rebalance, in order (see ``ring.placement`` for the rules each step keeps):

1. replicas on removed devices are freed; they must move;
2. partitions whose replicas are less dispersed than the cluster allows
   give one up (if they may move);
3. devices above their quota (``ring.tiers``) give up the excess, at random
   among partitions that may move; weight-0 devices have a quota of 0;
4. freed replicas are placed tier by tier (region, zone, ip, device) where
   room is left, never breaking dispersion;
5. whatever could not be placed exactly is evened out by direct moves.

Balance is the worst device's deviation, in percent, from its share after
dispersion (``TierTree.share``); ``weight_balance`` is the same against
weight alone, which differs only when dispersion and weights conflict.
Dispersion is the percentage of partitions that have more replicas in some
region, zone, ip or device than that tier's ``hi``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from martlet.errors import RingError
from martlet.hashing import HashSection

from ring.device import MAX_DEVICE_ID, UNASSIGNED_ID, Device, DeviceSearch, parse_search
from ring.placement import Placement
from ring.ring import Ring
from ring.tiers import DEVICE_LEVEL, TierTree, build_tiers

MAX_PART_POWER = 24


@dataclass(frozen=True)
class RebalanceResult:
    moved: int  # partition-replicas now on a different device
    moved_partitions: int  # partitions with at least one replica moved
    balance: float
    dispersion: float
    weight_balance: float


@dataclass(frozen=True)
class RingStats:
    parts: np.ndarray  # partition-replicas per device id
    target: np.ndarray  # share after dispersion, in partition-replicas
    balance: float
    dispersion: float
    weight_balance: float

    def device_balance(self, dev_id: int) -> float:
        """% above (+) or below (-) the device's target; 0 for weight-0 empty devices."""
        target = self.target[dev_id]
        if target <= 0:
            return 0.0 if self.parts[dev_id] == 0 else 999.99
        return float((self.parts[dev_id] - target) * 100.0 / target)


class RingBuilder:
    def __init__(self, part_power: int, replicas: int, min_part_hours: int) -> None:
        if not isinstance(part_power, int) or not 1 <= part_power <= MAX_PART_POWER:
            raise RingError(f"part_power must be an integer 1..{MAX_PART_POWER}, got {part_power!r}")
        if not isinstance(replicas, int) or replicas < 1:
            raise RingError(f"replicas must be an integer >= 1, got {replicas!r}")
        if not isinstance(min_part_hours, int) or min_part_hours < 0:
            raise RingError(f"min_part_hours must be an integer >= 0, got {min_part_hours!r}")
        self.part_power = part_power
        self.replicas = replicas
        self.min_part_hours = min_part_hours
        self.devices: list[Device | None] = []
        self.version = 0
        # replica -> partition -> device id, -1 where unassigned. None until
        # the first rebalance.
        self._assignment: np.ndarray | None = None
        # Seconds (the caller's clock) when each partition last moved.
        self._last_moved = np.full(self.partitions, -np.inf)

    @property
    def partitions(self) -> int:
        return 1 << self.part_power

    # -- devices -----------------------------------------------------------------
    def add_device(
        self,
        region: int,
        zone: int,
        ip: str,
        port: int,
        device: str,
        weight: float,
        meta: str = "",
        id: int | None = None,
    ) -> Device:
        """Add a device; its id is the next free slot at the end unless given.
        A removed id still named by the assignment cannot be reused before a
        rebalance, or its partitions would silently change hands."""
        if id is None:
            id = len(self.devices)
        elif id < len(self.devices):
            if self.devices[id] is not None:
                raise RingError(f"device id {id} is already in use")
            if self._assignment is not None and (self._assignment == id).any():
                raise RingError(f"device id {id} was removed but still holds partitions; rebalance first")
        if id > MAX_DEVICE_ID:
            raise RingError(f"too many devices (id {id} > {MAX_DEVICE_ID})")
        for other in self.live_devices():
            if (other.ip, other.port, other.device) == (ip, port, device):
                raise RingError(f"device {ip}:{port}/{device} is already in the ring as id {other.id}")
        dev = Device(id, region, zone, ip, port, device, float(weight), meta)
        while len(self.devices) <= id:
            self.devices.append(None)
        self.devices[id] = dev
        self.version += 1
        return dev

    def remove_device(self, dev_id: int) -> Device:
        dev = self.get_device(dev_id)
        self.devices[dev_id] = None
        self.version += 1
        return dev

    def set_weight(self, dev_id: int, weight: float) -> Device:
        dev = dataclasses.replace(self.get_device(dev_id), weight=float(weight))
        self.devices[dev_id] = dev
        self.version += 1
        return dev

    def get_device(self, dev_id: int) -> Device:
        if 0 <= dev_id < len(self.devices):
            dev = self.devices[dev_id]
            if dev is not None:
                return dev
        raise RingError(f"no device with id {dev_id}")

    def live_devices(self) -> list[Device]:
        return [d for d in self.devices if d is not None]

    def search(self, value: str | DeviceSearch) -> list[Device]:
        query = parse_search(value) if isinstance(value, str) else value
        return [d for d in self.live_devices() if query.matches(d)]

    # -- rebalancing -------------------------------------------------------------
    def rebalance(self, seed: int = 0, now: float = 0.0) -> RebalanceResult:
        """Reassign as little as needed; ``now`` is in seconds on the same
        clock as earlier calls, and ``seed`` makes the outcome repeatable."""
        if not self.live_devices():
            raise RingError("the ring has no devices")
        before = self._current_assignment()
        tree = build_tiers(self.devices, self.replicas, self.partitions, self._counts(before))
        movable = (now - self._last_moved) >= self.min_part_hours * 3600.0
        rng = np.random.default_rng([seed, self.version])
        placement = Placement(before.copy(), tree, movable, rng)
        live = np.array([d is not None for d in self.devices] + [False], dtype=bool)
        placement.release_lost(live)
        placement.release_for_dispersion()
        placement.place_unassigned()
        placement.move_to_quota()
        if (placement.device_counts() != tree.device_quota).any():
            placement.release_overweight()
            placement.place_unassigned()
            placement.move_to_quota()
        after = placement.a
        changed = after != before
        moved_parts = changed.any(axis=0)
        self._last_moved = np.where(moved_parts, now, self._last_moved)
        self._assignment = after
        self.version += 1
        stats = self._stats(tree, after)
        return RebalanceResult(
            moved=int(changed.sum()),
            moved_partitions=int(moved_parts.sum()),
            balance=stats.balance,
            dispersion=stats.dispersion,
            weight_balance=stats.weight_balance,
        )

    def _current_assignment(self) -> np.ndarray:
        if self._assignment is None:
            return np.full((self.replicas, self.partitions), -1, dtype=np.int64)
        return self._assignment

    def _counts(self, assignment: np.ndarray) -> np.ndarray:
        held = assignment[assignment >= 0]
        return np.bincount(held, minlength=len(self.devices))[: len(self.devices)]

    def stats(self) -> RingStats:
        """Balance and dispersion of the current assignment."""
        assignment = self._current_assignment()
        tree = build_tiers(self.devices, self.replicas, self.partitions, self._counts(assignment))
        return self._stats(tree, assignment)

    def _stats(self, tree: TierTree, assignment: np.ndarray) -> RingStats:
        parts = self._counts(assignment)
        target = tree.device_share * self.partitions
        weights = np.array([d.weight if d is not None else 0.0 for d in self.devices])
        raw_target = weights * self.replicas * self.partitions / weights.sum()
        return RingStats(
            parts=parts,
            target=target,
            balance=_worst_deviation(parts, target),
            dispersion=dispersion_of(assignment, tree),
            weight_balance=_worst_deviation(parts, raw_target),
        )

    def pretend_min_part_hours_passed(self) -> None:
        """Let the next rebalance move any partition, as if ``min_part_hours``
        had passed since the last one (a young test cluster; an operator
        who knows no replication is under way)."""
        self._last_moved = np.full(self.partitions, -np.inf)

    def min_part_seconds_left(self, now: float) -> float:
        """Seconds until every partition may move again."""
        left = self.min_part_hours * 3600.0 - (now - self._last_moved.max())
        return max(0.0, float(left))

    # -- output ----------------------------------------------------------------
    def get_ring(self, hash_settings: HashSection = HashSection()) -> Ring:
        assignment = self._assignment
        if assignment is None or (assignment < 0).any():
            raise RingError("the builder has unassigned partitions; rebalance first")
        if not all(self.devices[i] is not None for i in np.unique(assignment)):
            raise RingError("the assignment names removed devices; rebalance first")
        return Ring(
            self.part_power,
            self.devices,
            [row.astype("<u2").tobytes() for row in assignment],
            hash_settings,
            version=self.version,
        )

    @property
    def assignment(self) -> np.ndarray | None:
        """A copy of replica -> partition -> device id (-1 unassigned)."""
        return None if self._assignment is None else self._assignment.copy()

    @property
    def last_moved(self) -> np.ndarray:
        return self._last_moved.copy()

    # -- persistence (the file layer calls these; no I/O here) -------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        metadata = {
            "kind": "builder",
            "part_power": self.part_power,
            "replicas": self.replicas,
            "min_part_hours": self.min_part_hours,
            "version": self.version,
            "devices": [None if d is None else d.to_dict() for d in self.devices],
        }
        arrays = {"last_moved": self._last_moved.astype("<f8")}
        if self._assignment is not None:
            flat = np.where(self._assignment < 0, UNASSIGNED_ID, self._assignment).reshape(-1)
            arrays["assignment"] = flat.astype("<u2")
        return metadata, arrays

    @classmethod
    def from_state(
        cls, metadata: dict[str, Any], arrays: dict[str, np.ndarray], devices: Sequence[Device | None]
    ) -> RingBuilder:
        try:
            builder = cls(int(metadata["part_power"]), int(metadata["replicas"]), int(metadata["min_part_hours"]))
            builder.version = int(metadata["version"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RingError(f"bad builder metadata: {exc}") from None
        for index, dev in enumerate(devices):
            if dev is not None and dev.id != index:
                raise RingError(f"device at index {index} has id {dev.id}")
        builder.devices = list(devices)
        last_moved = arrays.get("last_moved")
        if last_moved is None or last_moved.size != builder.partitions:
            raise RingError("builder's last_moved array is missing or of the wrong size")
        builder._last_moved = last_moved.astype(float)
        flat = arrays.get("assignment")
        if flat is not None:
            if flat.size != builder.partitions * builder.replicas:
                raise RingError("builder's assignment array has the wrong size")
            ids = flat.astype(np.int64).reshape(builder.replicas, builder.partitions)
            ids[ids == UNASSIGNED_ID] = -1
            if ids.max() >= len(devices):
                raise RingError("builder's assignment names a device beyond the device list")
            builder._assignment = ids
        return builder


def _worst_deviation(parts: np.ndarray, target: np.ndarray) -> float:
    """Worst % deviation among devices that should hold something."""
    wanted = target > 0
    if not wanted.any():
        return 0.0
    return float((np.abs(parts[wanted] - target[wanted]) * 100.0 / target[wanted]).max())


def dispersion_of(assignment: np.ndarray, tree: TierTree) -> float:
    """% of partitions with more replicas in some tier than its ``hi``
    (an unassigned replica counts as undispersed)."""
    bad = (assignment < 0).any(axis=0)
    for level in range(1, DEVICE_LEVEL + 1):
        nodes = tree.node_of[level][assignment]
        for r in range(assignment.shape[0]):
            same = (nodes == nodes[r]).sum(axis=0)
            # max(hi, 1): a replica still on a draining device is imbalance,
            # not a dispersion fault.
            bad |= (nodes[r] >= 0) & (same > np.maximum(tree.hi[level][nodes[r]], 1))
    return float(bad.mean() * 100.0)
