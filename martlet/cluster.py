"""The cluster-wide configuration, ``martlet.conf``.

Every node of a cluster must share it: the hash prefix and suffix decide
where each path lives, the secret signs auth tokens so that any proxy accepts
any proxy's token and (through a key derived from it, or from
``backend_secret`` when set: ``martlet.backend_auth``) every backend request,
``ring_dir`` is where the ring files are found, and the
``[storage-policy:N]`` sections declare the storage policies
(``martlet.policies``), each with its own object ring.
Role configs (``storage.conf``, ``proxy.conf``, ...) point at it with their
``cluster_conf`` key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from martlet.config import ConfigFile, load_config, resolve_relative
from martlet.hashing import HashSection
from martlet.policies import StoragePolicies, policies_from, policy_string

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
    policies: StoragePolicies = field(default_factory=StoragePolicies)

    def ring_path(self, kind: str, policy: int = 0) -> Path:
        """``<ring_dir>/<kind>.ring`` for kind in account, container, object;
        an object ring of storage policy N is ``object-N.ring``."""
        if kind not in RING_KINDS:
            raise ValueError(f"unknown ring kind {kind!r}")
        if policy and kind != "object":
            raise ValueError(f"only objects have a ring per storage policy, not {kind}s")
        return self.ring_dir / f"{policy_string(kind, policy)}.ring"

    def builder_path(self, kind: str, policy: int = 0) -> Path:
        return self.ring_path(kind, policy).with_suffix(".builder")

    def ring_paths(self) -> dict[str, Path]:
        """Every ring of the cluster by name (``account``, ``container``,
        ``object``, ``object-1``, ...): one object ring per policy."""
        paths = {kind: self.ring_path(kind) for kind in RING_KINDS if kind != "object"}
        for policy in self.policies:
            paths[policy.ring_name] = self.ring_path("object", policy.index)
        return paths


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
        policies=policies_from(config),
    )


def load_cluster_config(path: str | Path | None) -> ClusterConfig:
    """Read martlet.conf (None: defaults plus environment overrides)."""
    return cluster_config_from(load_config(path))
