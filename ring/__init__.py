"""Placement: which devices hold each partition of account, container and
object paths. Pure math in ``builder`` (with ``tiers`` and ``placement``) and
``ring``; files in ``ring_file``; the ``martlet ring`` command in ``cli``.

Other components use only what is exported here.
"""

from ring.builder import RebalanceResult, RingBuilder
from ring.device import Device
from ring.ring import Ring
from ring.ring_file import RingReloader, load_builder, load_ring, save_builder, save_ring

__all__ = [
    "Device",
    "RebalanceResult",
    "Ring",
    "RingBuilder",
    "RingReloader",
    "load_builder",
    "load_ring",
    "save_builder",
    "save_ring",
]
