"""Small blocking file primitives shared by objects, async_pending and hashes.

Each makes a write durable or atomic the same way everywhere: write to a
temporary file in the device's ``tmp/`` (same filesystem, so rename is
atomic), fsync it, rename it into place, fsync the directory.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from martlet.errors import DeviceUnavailable

# errnos that mean "this device cannot take the write", answered with 507.
DEVICE_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_temp(tmp_dir: Path, prefix: str = "tmp") -> tuple[int, Path]:
    """A new temporary file under ``tmp_dir`` (created if needed)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=prefix)
    return fd, Path(name)


def unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def raise_if_full(exc: OSError) -> None:
    """Turn ENOSPC/EDQUOT into the 507 a full device answers."""
    if exc.errno in DEVICE_FULL_ERRNOS:
        raise DeviceUnavailable("device full") from None


def atomic_write(tmp_dir: Path, target: Path, data: bytes, fsync: bool = True) -> None:
    """Replace ``target`` with ``data`` so readers see the old or the new, never half.

    A full device raises DeviceUnavailable and leaves no temp file behind.
    """
    fd, tmp = make_temp(tmp_dir)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        unlink_quietly(tmp)
        raise_if_full(exc)
        raise
    except BaseException:
        unlink_quietly(tmp)
        raise
    if fsync:
        fsync_dir(target.parent)
