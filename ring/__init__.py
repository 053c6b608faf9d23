"""Placement: which devices hold each partition of account, container and
object paths. Pure math in ``builder`` and ``ring``; files in ``ring_file``.

Other components use only what is exported here.
"""

from ring.device import Device
from ring.ring import Ring
from ring.ring_file import RingReloader, load_ring, save_ring

__all__ = ["Device", "Ring", "RingReloader", "load_ring", "save_ring"]
