"""Devices of a ring, and the two text forms operators type for them.

A device is one disk on one storage node: ``(region, zone, ip, port, device)``
says where it is and ``weight`` how much of the ring it should hold relative
to the others. Its ``id`` is its index in the ring's device list; a removed
device leaves its slot as ``None`` so ids never shift under existing
assignments.

Compact spec (as in Swift's ring builder): ``r1z2-10.0.0.1:6200/sdb1_meta``;
an IPv6 address is written in brackets, ``r1z1-[::1]:6200/d1``.
Search value: any subset of ``d<id> r<region> z<zone> -<ip> :<port>
/<device> _<meta>`` in that order, or a bare id, e.g. ``z2``, ``r1z2/d1``,
``-127.0.0.1:6210``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from martlet.errors import RingError
from martlet.netaddr import bracket_host

# Device ids index the uint16 assignment arrays; UNASSIGNED_ID marks an
# unassigned replica in builder files, so the largest usable id is one below it.
UNASSIGNED_ID = 0xFFFF
MAX_DEVICE_ID = UNASSIGNED_ID - 1


@dataclass(frozen=True)
class Device:
    id: int
    region: int
    zone: int
    ip: str
    port: int
    device: str
    weight: float
    meta: str = ""

    def __post_init__(self) -> None:
        validate_device(self)

    @property
    def tier(self) -> tuple[int, int, str]:
        """``(region, zone, ip)``: the failure domains this device sits in."""
        return (self.region, self.zone, self.ip)

    def spec(self) -> str:
        """The compact spec that ``parse_device_spec`` reads back."""
        ip = bracket_host(self.ip)
        meta = f"_{self.meta}" if self.meta else ""
        return f"r{self.region}z{self.zone}-{ip}:{self.port}/{self.device}{meta}"

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "region": self.region,
            "zone": self.zone,
            "ip": self.ip,
            "port": self.port,
            "device": self.device,
            "weight": self.weight,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: object) -> Device:
        if not isinstance(data, dict):
            raise RingError(f"device entry is not a mapping: {data!r}")
        try:
            return cls(
                id=int(data["id"]),
                region=int(data["region"]),
                zone=int(data["zone"]),
                ip=str(data["ip"]),
                port=int(data["port"]),
                device=str(data["device"]),
                weight=float(data["weight"]),
                meta=str(data.get("meta", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RingError(f"bad device entry {data!r}: {exc}") from None


def validate_device(dev: Device) -> None:
    """Reject values that would corrupt placement or the file format."""
    if not 0 <= dev.id <= MAX_DEVICE_ID:
        raise RingError(f"device id {dev.id} out of range 0..{MAX_DEVICE_ID}")
    if dev.region < 0 or dev.zone < 0:
        raise RingError(f"region and zone must be >= 0, got r{dev.region}z{dev.zone}")
    if not dev.ip or any(c.isspace() for c in dev.ip):
        raise RingError(f"bad ip {dev.ip!r}")
    if not 0 < dev.port < 65536:
        raise RingError(f"port {dev.port} out of range 1..65535")
    if not dev.device or "/" in dev.device or any(c.isspace() for c in dev.device):
        raise RingError(f"bad device name {dev.device!r}")
    if not math.isfinite(dev.weight) or dev.weight < 0:
        raise RingError(f"weight must be a finite number >= 0, got {dev.weight!r}")


_SPEC_RE = re.compile(
    r"^r(?P<region>\d+)z(?P<zone>\d+)-"
    r"(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<ip>[^:/\[\]\s]+))"
    r":(?P<port>\d+)/(?P<device>[^/_\s]+)(?:_(?P<meta>\S*))?$"
)


@dataclass(frozen=True)
class DeviceSpec:
    """A device to add, before it has an id."""

    region: int
    zone: int
    ip: str
    port: int
    device: str
    meta: str = ""


def parse_device_spec(text: str) -> DeviceSpec:
    """``r1z1-127.0.0.1:6200/d1[_meta]`` -> DeviceSpec."""
    match = _SPEC_RE.match(text.strip())
    if not match:
        raise RingError(f"bad device spec {text!r} (expected r<region>z<zone>-<ip>:<port>/<device>)")
    return DeviceSpec(
        region=int(match["region"]),
        zone=int(match["zone"]),
        ip=match["ip6"] or match["ip"],
        port=int(match["port"]),
        device=match["device"],
        meta=match["meta"] or "",
    )


_SEARCH_RE = re.compile(
    r"^(?:d(?P<id>\d+))?(?:r(?P<region>\d+))?(?:z(?P<zone>\d+))?"
    r"(?:-(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<ip>[^:/_\[\]\s]+)))?"
    r"(?::(?P<port>\d+))?(?:/(?P<device>[^_\s]+))?(?:_(?P<meta>\S+))?$"
)


@dataclass(frozen=True)
class DeviceSearch:
    """Which devices a search value names; ``None`` fields match anything."""

    id: int | None = None
    region: int | None = None
    zone: int | None = None
    ip: str | None = None
    port: int | None = None
    device: str | None = None
    meta: str | None = None

    def matches(self, dev: Device) -> bool:
        return all(
            want is None or want == getattr(dev, name)
            for name, want in (
                ("id", self.id),
                ("region", self.region),
                ("zone", self.zone),
                ("ip", self.ip),
                ("port", self.port),
                ("device", self.device),
                ("meta", self.meta),
            )
        )


def parse_search(text: str) -> DeviceSearch:
    """A bare number is an id; otherwise Swift's search-value grammar."""
    text = text.strip()
    if text.isdigit():
        return DeviceSearch(id=int(text))
    match = _SEARCH_RE.match(text)
    if not text or not match:
        raise RingError(f"bad search value {text!r}")
    ints = {k: int(match[k]) for k in ("id", "region", "zone", "port") if match[k] is not None}
    return DeviceSearch(
        ip=match["ip6"] or match["ip"],
        device=match["device"],
        meta=match["meta"],
        **ints,
    )
