"""glibc's allocator told to keep the memory of large buffers for reuse.

Why: a body moves through a daemon as ``bytes`` of 64 KiB to 1 MiB (a
socket read, a parsed body piece, a disk chunk). glibc serves an allocation
that large with a fresh ``mmap`` (or, once its threshold has adapted, from
the heap, whose free top it hands back to the kernel as soon as it passes
twice that size; a thread's arena is shrunk with ``madvise``). Either way
the next buffer faults its pages in again, zeroed by the kernel: 540 page
faults per 1 MiB PUT across the cluster, system time spent on memory the
process had a moment before.

``keep_large_buffers`` fixes both thresholds at process start: allocations
below ``MMAP_THRESHOLD`` come from the heap, and up to ``TRIM_THRESHOLD`` of
free memory at the top of a heap stays with the process. The cost is that
much resident memory kept after a burst, per arena, never more than the
process's own peak. An operator's ``MALLOC_MMAP_THRESHOLD_`` or
``MALLOC_TRIM_THRESHOLD_`` in the environment wins: then nothing is changed.
Other C libraries (no ``mallopt``) are left alone.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

# mallopt's parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 32 * 1024 * 1024
_OPERATOR_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def keep_large_buffers() -> bool:
    """Set glibc's thresholds (see the module); True if they were set."""
    if any(name in os.environ for name in _OPERATOR_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False  # not glibc: its allocator has its own policy
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not done:
        log.warning("mallopt refused the buffer thresholds")
    return done
