"""The object auditor: re-reads every object and quarantines what is corrupt.

For each hash directory under ``<dev>/objects`` (and ``objects-N`` of every
other storage policy: no ring is needed) it reads the metadata of
every file that counts (``storage.diskfile.gather_files``) and, for a
``.data``, the whole body: the md5 of the bytes must be the stored ETag,
the bytes must reach the stored length, and the stored name must hash to
the directory it sits in. Anything else moves the hash directory to
``quarantined/`` (``storage.quarantine``) and marks its suffix dirty, so
the next replication pass restores a good copy from a peer.

Reads are bounded by ``files_per_second`` and ``bytes_per_second``
(``RateLimiter``), so auditing never starves client traffic. Each device is
walked in its own thread - blocking reads never touch the event loop - and
the limits are shared by the whole process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from martlet.digest import BodyDigest
from martlet.hashing import HashSection, hash_path
from martlet.ratelimit import RateLimiter
from replicator.config import AuditorSection
from replicator.daemon import PassDaemon
from replicator.stats import PassStats
from storage.config import StorageConfig
from storage.diskfile import DATA, gather_files, list_hash_dir
from storage.devices import policy_dirs
from storage.layout import OBJECTS
from storage.metadata import CorruptObject, ObjectMetadata, read_metadata
from storage.quarantine import quarantine_hash_dir

log = logging.getLogger(__name__)

# Work the auditor may do ahead of its limits before it sleeps (RateLimiter):
# a second's worth of files or bytes in a run, then a sleep as long.
BURST_SECONDS = 1.0


@dataclass(frozen=True)
class AuditResult:
    bytes_read: int = 0
    files: int = 0
    problem: str | None = None  # why it is corrupt; None when it is sound
    bad_file: str | None = None


def _check_name(meta: ObjectMetadata, hash_dir: Path, settings: HashSection) -> str | None:
    parts = meta.name[1:].split("/", 2) if meta.name.startswith("/") else []
    if len(parts) != 3 or hash_path(*parts, settings=settings) != hash_dir.name:
        return "name does not hash to its directory"
    return None


def audit_data(fd: int, meta: ObjectMetadata, chunk_size: int, limiter: RateLimiter) -> tuple[int, str | None]:
    """Blocking: read the body, ``(bytes read, problem or None)``."""
    if meta.etag is None or meta.content_length is None:
        return 0, "data file without etag or length"
    # The md5, and the stored CRC-32 a GET checks: a wrong one would make
    # every GET cut the object, so it is found here too.
    digests = [BodyDigest(meta.etag, meta.content_length)]
    if meta.crc32 is not None:
        digests.append(BodyDigest(meta.etag, meta.content_length, meta.crc32))
    offset = 0
    while offset < meta.content_length:
        want = min(chunk_size, meta.content_length - offset)
        limiter.wait(want)
        data = os.pread(fd, want, offset)
        if not data:
            return offset, "body shorter than its metadata"
        offset += len(data)
        for digest in digests:
            problem = digest.check(data)
            if problem is not None:
                return offset, problem
    return offset, None


def audit_hash_dir(
    hash_dir: Path, settings: HashSection, chunk_size: int, byte_limiter: RateLimiter
) -> AuditResult:
    """Blocking: check every file that counts in one hash directory."""
    files = gather_files(list_hash_dir(hash_dir))
    total = 0
    for name in files.kept:
        try:
            fd = os.open(hash_dir / name, os.O_RDONLY)
        except FileNotFoundError:
            continue  # replaced meanwhile: the next pass sees the new one
        try:
            meta = read_metadata(fd)
            problem = _check_name(meta, hash_dir, settings)
            if problem is None and name.endswith(DATA):
                read, problem = audit_data(fd, meta, chunk_size, byte_limiter)
                total += read
        except CorruptObject as exc:
            problem = f"unreadable metadata: {exc.reason}"
        finally:
            os.close(fd)
        if problem is not None:
            return AuditResult(total, len(files.kept), f"{name}: {problem}", name)
    return AuditResult(total, len(files.kept))


def iter_hash_dirs(device_path: Path) -> Iterator[Path]:
    """Blocking: every ``objects/<part>/<suffix>/<hash>`` of a device, and
    the same of every other storage policy's ``objects-N/`` on it."""
    for _policy, objects in policy_dirs(device_path, OBJECTS):
        for level in _subdirs(objects):
            for suffix in _subdirs(level):
                yield from _subdirs(suffix)


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(path) if e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


class _Stopped(Exception):
    """The daemon was asked to stop while a limiter slept."""


class Auditor(PassDaemon):
    name = "auditor"
    progress_name = "auditor"
    pass_message = "audit pass"

    def __init__(
        self, storage: StorageConfig, section: AuditorSection, devices: tuple[str, ...] = (), show_progress: bool = False
    ) -> None:
        super().__init__(storage, section, log, show_progress)
        self.section = section
        self.only_devices = set(devices)
        self._stop = threading.Event()
        self.files = RateLimiter(section.files_per_second, sleep=self._sleep, burst=BURST_SECONDS)
        self.bytes = RateLimiter(section.bytes_per_second, sleep=self._sleep, burst=BURST_SECONDS)

    def _sleep(self, seconds: float) -> None:
        """A limiter's sleep (up to about a second), which a stop ends at
        once, mid-object too."""
        if self._stop.wait(seconds):
            raise _Stopped

    def devices(self) -> list[Path]:
        root = self.storage.devices_root
        try:
            names = sorted(os.listdir(root))
        except FileNotFoundError:
            return []
        return [
            root / n
            for n in names
            if not n.startswith(".") and (root / n).is_dir() and (not self.only_devices or n in self.only_devices)
        ]

    def audit_device(self, device_path: Path, stats: PassStats) -> None:
        """Blocking: one device, one hash directory at a time."""
        try:
            self._audit_device(device_path, stats)
        except _Stopped:
            pass  # the hash directory under way is left for the next pass

    def _audit_device(self, device_path: Path, stats: PassStats) -> None:
        settings = self.storage.cluster.hash
        for hash_dir in iter_hash_dirs(device_path):
            if self._stop.is_set():
                return
            self.files.wait(1)
            try:
                result = audit_hash_dir(hash_dir, settings, self.section.chunk_size, self.bytes)
            except OSError as exc:
                log.warning("audit failed", extra={"hash_dir": str(hash_dir), "error": repr(exc)})
                stats.failures += 1
                continue
            stats.files_checked += result.files
            stats.bytes_checked += result.bytes_read
            # Only if the bad file is still there: a fresh write that replaced
            # it meanwhile is never moved aside.
            if result.problem is not None and quarantine_hash_dir(hash_dir, result.problem, result.bad_file):
                stats.quarantined += 1
            self.progress.show(stats)

    async def run_pass(self) -> PassStats:
        stats = PassStats()
        devices = await asyncio.to_thread(self.devices)
        await asyncio.gather(*(asyncio.to_thread(self.audit_device, d, stats) for d in devices))
        return await self.end_pass(stats)

    async def run(self, once: bool = False, stop: asyncio.Event | None = None) -> PassStats | None:
        """One pass (``once``) or a pass every ``interval`` until ``stop``
        (which also ends a pass in progress, between hash directories)."""
        stop = stop or asyncio.Event()
        watcher = asyncio.create_task(self._watch(stop))
        try:
            return await self.run_passes(self.run_pass, once, stop)
        finally:
            watcher.cancel()

    async def _watch(self, stop: asyncio.Event) -> None:
        """Tell the device threads to stop when the daemon is asked to."""
        await stop.wait()
        self._stop.set()
