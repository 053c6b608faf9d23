"""Small blocking file primitives: durable, atomic writes done one way everywhere.

Write to a temporary file on the same filesystem (a device's ``tmp/`` for
storage, the target's own folder for ring files), fsync it, rename it into
place, fsync the directory. Used by objects, async_pending, partition hashes
and ring/builder files alike.

A file renamed into a directory that was just created is only durable once
that directory's own entry is: ``make_dirs`` creates the missing folders of
a path and says which it created, and ``fsync_created`` fsyncs the parent
of each (up to the first folder that already existed, e.g. the device
root), as Swift's ``renamer`` does. Folders that already existed cost
nothing.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


def make_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents; return those created, top down.

    A folder another writer creates at the same moment counts as created
    here too, so that its entry is fsynced before either write is
    acknowledged. (One made by another writer a moment before, whose fsync
    is still under way, is not seen: the window Swift has too.)
    """
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    created = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            if not folder.is_dir():
                raise
        created.append(folder)
    return created


def fsync_created(created: list[Path]) -> None:
    """Make the entries of newly created folders durable: fsync the parent
    of each (a folder's own contents are its writer's to fsync)."""
    if not created:
        return  # the common case, on every write: no sorting of nothing
    for parent in sorted({folder.parent for folder in created}, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(parent)


def make_dirs_durable(path: Path, fsync: bool = True) -> list[Path]:
    """``make_dirs`` then, with ``fsync``, ``fsync_created``."""
    created = make_dirs(path)
    if fsync and created:
        fsync_created(created)
    return created


def make_temp(tmp_dir: Path, prefix: str = "tmp") -> tuple[int, Path]:
    """A new temporary file under ``tmp_dir`` (created if needed: only
    then, as it is there on every write but the first)."""
    try:
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=prefix)
    except FileNotFoundError:
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


@contextmanager
def full_device_is_507() -> Iterator[None]:
    """Within it, ENOSPC/EDQUOT become the 507 a full device answers."""
    try:
        yield
    except OSError as exc:
        raise_if_full(exc)
        raise


def atomic_write(target: Path, data: bytes, tmp_dir: Path | None = None, fsync: bool = True,
                 mode: int = 0o644) -> None:
    """Replace ``target`` with ``data`` so readers see the old or the new, never half.

    The temporary file lives in ``tmp_dir`` (default: beside ``target``); it
    must be on the target's filesystem so that the rename is atomic. A failed
    write raises its OSError and leaves no temp file behind (storage code
    wraps it in ``full_device_is_507``).
    """
    folder = target.parent if tmp_dir is None else tmp_dir
    fd, tmp = make_temp(folder, prefix=f".{target.name}.")
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if fsync:
                os.fsync(fd)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        unlink_quietly(tmp)
        raise
    if fsync:
        fsync_dir(target.parent)
