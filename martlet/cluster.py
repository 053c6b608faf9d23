"""The cluster-wide configuration, ``martlet.conf``.

Every node of a cluster must share it: the hash prefix and suffix decide
where each path lives, the secret signs auth tokens so that any proxy accepts
any proxy's token and (through a key derived from it, or from
``backend_secret`` when set: ``martlet.backend_auth``) every backend request,
and ``ring_dir`` is where the three ring files are found.
Role configs (``storage.conf``, ``proxy.conf``, ...) point at it with their
``cluster_conf`` key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from martlet.config import ConfigFile, load_config, resolve_relative
from martlet.hashing import HashSection

RING_KINDS = ("account", "container", "object")


@dataclass(frozen=True)
class ClusterSection:
    """``[cluster]`` of martlet.conf."""

    ring_dir: str = ""  # empty: the folder that holds martlet.conf
    secret: str = ""
    # Keys the signatures of backend requests; empty: derived from ``secret``.
    backend_secret: str = ""


@dataclass(frozen=True)
class ClusterConfig:
    path: str
    hash: HashSection
    ring_dir: Path
    secret: str = field(repr=False)  # secrets stay out of logs and tracebacks
    backend_secret: str = field(default="", repr=False)

    def ring_path(self, kind: str) -> Path:
        """``<ring_dir>/<kind>.ring`` for kind in account, container, object."""
        if kind not in RING_KINDS:
            raise ValueError(f"unknown ring kind {kind!r}")
        return self.ring_dir / f"{kind}.ring"

    def builder_path(self, kind: str) -> Path:
        return self.ring_path(kind).with_suffix(".builder")


def cluster_config_from(config: ConfigFile) -> ClusterConfig:
    section = config.section("cluster", ClusterSection)
    if section.ring_dir:
        ring_dir = resolve_relative(config, section.ring_dir)
    elif config.path != "<defaults>":
        ring_dir = Path(config.path).resolve().parent
    else:
        ring_dir = Path("/etc/martlet")
    return ClusterConfig(
        path=config.path,
        hash=config.section("hash", HashSection),
        ring_dir=ring_dir,
        secret=section.secret,
        backend_secret=section.backend_secret,
    )


def load_cluster_config(path: str | Path | None) -> ClusterConfig:
    """Read martlet.conf (None: defaults plus environment overrides)."""
    return cluster_config_from(load_config(path))
