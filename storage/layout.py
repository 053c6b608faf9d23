"""What lives where on a storage node: the one home of the directory names.

Under the devices root (``[storage] devices``) each device is a directory;
inside it::

    objects/          object partitions (storage.diskfile)
    tmp/              writes land here first, then are renamed into place
    async_pending/    container and account updates to retry (storage.async_pending)
    containers/       container databases (storage.db)
    accounts/         account databases (storage.db)
    quarantined/      what the auditor or a GET found corrupt, by kind
                      (``quarantined/objects/<hash>``)

Beside the devices, the background daemons leave their last pass's figures
in ``<devices>/<daemon>.json`` unless their section names a ``stats_file``.

Storage policies (``martlet.policies``): policy 0 keeps the names above;
policy N gets ``objects-N``, ``tmp-N`` and ``async_pending-N``, as Swift
does, so every object directory is asked for with its policy. Databases are
not per policy. The walkers that take every policy found on a device (the
auditor, the updater, recon) tell a policy's directory by its name
(``policy_of_dir``).

Pure: paths are built, never touched.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from martlet.policies import policy_string

OBJECTS = "objects"
TMP = "tmp"
ASYNC_PENDING = "async_pending"
QUARANTINED = "quarantined"
DATABASE_DIRS = {"container": "containers", "account": "accounts"}

# A hash directory's name: the md5 hex of a path (martlet.hashing.hash_path).
NAME_HASH_RE = re.compile(r"^[0-9a-f]{32}$")


def policy_dir(base: str, policy: int = 0) -> str:
    """``base`` for policy 0, ``base-N`` for policy N (Swift's naming)."""
    return policy_string(base, policy)


def policy_of_dir(name: str, base: str) -> int | None:
    """The policy whose ``base`` directory is called ``name`` (``objects``
    -> 0, ``objects-2`` -> 2), None for any other name."""
    if name == base:
        return 0
    prefix = f"{base}-"
    index = name[len(prefix):]
    if name.startswith(prefix) and index.isascii() and index.isdigit() and int(index) > 0 and index[0] != "0":
        return int(index)
    return None


@dataclass(frozen=True)
class DeviceLayout:
    """The directories of one device, ``<devices>/<device>``.

    Every request builds paths from these; joining ``Path`` objects is
    costly next to the rest of a small request, so a layout remembers its
    first-level directories (a handful per device) and ``of`` hands out
    one layout per device.
    """

    path: Path
    # (base name, policy) -> <device>/<base>[-N]
    _dirs: dict[tuple[str, int], Path] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, devices_root: Path, device: str) -> DeviceLayout:
        return _layout_of(devices_root, device)

    @classmethod
    def at(cls, device_path: Path) -> DeviceLayout:
        """The (shared) layout of the device at ``device_path``."""
        return _layout_at(device_path)

    @property
    def device(self) -> str:
        return self.path.name

    def _dir(self, base: str, policy: int) -> Path:
        found = self._dirs.get((base, policy))
        if found is None:
            found = self._dirs[(base, policy)] = self.path / policy_dir(base, policy)
        return found

    def objects(self, policy: int = 0) -> Path:
        return self._dir(OBJECTS, policy)

    def object_partition(self, partition: int, policy: int = 0) -> Path:
        """``objects/<part>``: one partition's suffix directories and hashes."""
        return self.objects(policy) / str(partition)

    def tmp(self, policy: int = 0) -> Path:
        return self._dir(TMP, policy)

    def async_pending(self, policy: int = 0) -> Path:
        return self._dir(ASYNC_PENDING, policy)

    def databases(self, kind: str) -> Path:
        """``containers/`` or ``accounts/`` (``kind`` is "container" or "account")."""
        return self._dir(DATABASE_DIRS[kind], 0)

    def quarantined(self, kind_dir: str) -> Path:
        """Where corrupt things of ``kind_dir`` (``objects``, ``objects-1``...) go."""
        return self.path / QUARANTINED / kind_dir


@functools.lru_cache(maxsize=1024)  # bounded: device names come from requests
def _layout_at(device_path: Path) -> DeviceLayout:
    return DeviceLayout(device_path)


@functools.lru_cache(maxsize=1024)
def _layout_of(devices_root: Path, device: str) -> DeviceLayout:
    return _layout_at(devices_root / device)


def stats_file(devices_root: Path, daemon: str, configured: str = "") -> Path:
    """Where ``daemon`` leaves its pass figures: ``configured`` (its
    section's ``stats_file``) if set, else ``<devices>/<daemon>.json``."""
    return Path(configured) if configured else devices_root / f"{daemon}.json"
