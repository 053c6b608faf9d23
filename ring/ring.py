"""The ring: an immutable map from a path's partition to its devices.

A ``Ring`` is what the proxy and the replicators consult on every request, so
its shape is chosen for lookup speed: one ``array('H')`` per replica
(``replica2part2dev[replica][partition] -> device id``) indexed directly, and
a tuple of ``Device`` records. Nothing is computed per call that could be
computed once when the ring is built. It never reads files or clocks; see
``ring.ring_file`` for that.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence

import numpy as np

from martlet.errors import RingError
from martlet.hashing import HashSection, hash_path_digest

from ring.device import Device

# Knuth's multiplicative constant: turns a partition number into a well-mixed
# starting point for walking the handoff list, so handoff load spreads out.
_HANDOFF_MIX = 2654435761


def _as_array(values: array | bytes | np.ndarray | Sequence[int]) -> array:
    if isinstance(values, array) and values.typecode == "H":
        return array("H", values)
    if isinstance(values, (bytes, bytearray, memoryview)):
        out = array("H")
        out.frombytes(bytes(values))
        return out
    return array("H", np.asarray(values, dtype=np.uint16).tobytes())


class Ring:
    """Placement of every partition's replicas on devices.

    ``devices[i]`` is the device with id ``i`` or ``None`` for a removed one.
    Every assignment must name an existing device; anything else is a
    ``RingError`` rather than a ring that answers wrongly.
    """

    __slots__ = (
        "_part_power",
        "_shift",
        "_devices",
        "_r2p2d",
        "_hash",
        "_version",
        "_handoff_devs",
    )

    def __init__(
        self,
        part_power: int,
        devices: Sequence[Device | None],
        replica2part2dev: Sequence[array | bytes | np.ndarray],
        hash_settings: HashSection = HashSection(),
        version: int = 0,
    ) -> None:
        if not 0 <= part_power <= 32:
            raise RingError(f"part_power {part_power} out of range 0..32")
        if not replica2part2dev:
            raise RingError("a ring needs at least one replica")
        self._part_power = part_power
        self._shift = 32 - part_power
        self._devices: tuple[Device | None, ...] = tuple(devices)
        self._r2p2d: tuple[array, ...] = tuple(_as_array(a) for a in replica2part2dev)
        self._hash = hash_settings
        self._version = version
        self._validate()
        # Only devices with weight may take new data, so only they are handoffs.
        self._handoff_devs: tuple[Device, ...] = tuple(
            d for d in self._devices if d is not None and d.weight > 0
        )

    def _validate(self) -> None:
        for index, dev in enumerate(self._devices):
            if dev is not None and dev.id != index:
                raise RingError(f"device at index {index} has id {dev.id}")
        parts = 1 << self._part_power
        present = np.array([d is not None for d in self._devices] + [False], dtype=bool)
        for replica, assignment in enumerate(self._r2p2d):
            if len(assignment) != parts:
                raise RingError(
                    f"replica {replica} assigns {len(assignment)} partitions, expected {parts}"
                )
            ids = np.frombuffer(assignment, dtype=np.uint16)
            clipped = np.minimum(ids, len(self._devices))
            if not present[clipped].all():
                bad = int(ids[~present[clipped]][0])
                raise RingError(f"replica {replica} names device {bad}, which is not in the ring")

    # -- shape -------------------------------------------------------------
    @property
    def part_power(self) -> int:
        return self._part_power

    @property
    def partition_count(self) -> int:
        return 1 << self._part_power

    @property
    def replica_count(self) -> int:
        return len(self._r2p2d)

    @property
    def devices(self) -> tuple[Device | None, ...]:
        return self._devices

    @property
    def hash_settings(self) -> HashSection:
        return self._hash

    @property
    def version(self) -> int:
        """The builder's version when this ring was made (for logs)."""
        return self._version

    @property
    def replica2part2dev(self) -> tuple[array, ...]:
        """The raw assignment; callers must not modify the arrays."""
        return self._r2p2d

    # -- lookups -----------------------------------------------------------
    def get_part(self, account: str, container: str | None = None, obj: str | None = None) -> int:
        digest = hash_path_digest(account, container, obj, settings=self._hash)
        return int.from_bytes(digest[:4], "big") >> self._shift

    def get_part_nodes(self, part: int) -> list[Device]:
        devs = self._devices
        return [devs[a[part]] for a in self._r2p2d]

    def get_nodes(
        self, account: str, container: str | None = None, obj: str | None = None
    ) -> tuple[int, list[Device]]:
        digest = hash_path_digest(account, container, obj, settings=self._hash)
        part = int.from_bytes(digest[:4], "big") >> self._shift
        devs = self._devices
        return part, [devs[a[part]] for a in self._r2p2d]

    def get_more_nodes(self, part: int) -> Iterator[Device]:
        """Handoffs for ``part``: devices in regions none of the primaries is
        in first, then new zones, then new ips, then every other device.

        The walk starts at a point derived from the partition so that the
        handoff work of a failed device spreads over the cluster instead of
        landing on one neighbour. Devices with weight 0 are never handoffs.
        """
        if not 0 <= part < self.partition_count:
            raise RingError(f"partition {part} out of range")
        primaries = self.get_part_nodes(part)
        used_ids = {d.id for d in primaries}
        regions = {d.region for d in primaries}
        zones = {(d.region, d.zone) for d in primaries}
        ips = {d.tier for d in primaries}
        candidates = self._handoff_devs
        if not candidates:
            return
        start = (part * _HANDOFF_MIX) % len(candidates)
        order = candidates[start:] + candidates[:start]
        for level in range(4):
            for dev in order:
                if dev.id in used_ids:
                    continue
                if level == 0 and dev.region in regions:
                    continue
                if level == 1 and (dev.region, dev.zone) in zones:
                    continue
                if level == 2 and dev.tier in ips:
                    continue
                used_ids.add(dev.id)
                regions.add(dev.region)
                zones.add((dev.region, dev.zone))
                ips.add(dev.tier)
                yield dev

    def __repr__(self) -> str:
        return (
            f"Ring(part_power={self._part_power}, replicas={self.replica_count}, "
            f"devices={sum(d is not None for d in self._devices)}, version={self._version})"
        )
