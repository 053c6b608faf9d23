"""Configuration of the node's background daemons, read from storage.conf.

Each daemon reads ``[storage]`` (devices, bind address, cluster_conf, fsync,
reclaim_age) through ``storage.config`` and its own section here, from the
same parse (``StorageConfig.section``):
``[replicator]`` (objects), ``[db-replicator]`` (containers and accounts)
and ``[auditor]``. Tombstone reclaim uses ``[storage] reclaim_age``, the
same value the storage daemon's REPLICATE uses, so both sides of a
comparison reclaim alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from storage.config import StorageConfig, load_storage_config

S = TypeVar("S")

_LEVELS = {"choices": ("DEBUG", "INFO", "WARNING", "ERROR")}


@dataclass(frozen=True)
class ReplicatorSection:
    """``[replicator]``: object replication."""

    interval: float = field(default=30.0, metadata={"min": 0.0})  # seconds between passes
    concurrency: int = field(default=4, metadata={"min": 1})  # partitions in flight per device
    conn_timeout: float = field(default=0.5, metadata={"min": 0.001})
    node_timeout: float = field(default=10.0, metadata={"min": 0.001})
    # How this node appears in the ring; empty/0: [storage] bind_ip/bind_port.
    ring_ip: str = ""
    ring_port: int = field(default=0, metadata={"min": 0})
    # Where each pass's figures go as JSON; empty: <devices>/object-replicator.json.
    stats_file: str = ""
    log_level: str = field(default="INFO", metadata=_LEVELS)


@dataclass(frozen=True)
class DbReplicatorSection:
    """``[db-replicator]``: container and account database replication."""

    interval: float = field(default=30.0, metadata={"min": 0.0})
    concurrency: int = field(default=4, metadata={"min": 1})  # databases in flight per device
    conn_timeout: float = field(default=0.5, metadata={"min": 0.001})
    node_timeout: float = field(default=10.0, metadata={"min": 0.001})
    rows_per_request: int = field(default=1000, metadata={"min": 1})
    # Deleted rows, and deleted databases, older than this many seconds are
    # removed; the same on every node, and longer than replicas stay apart.
    reclaim_age: int = field(default=604800, metadata={"min": 0})
    ring_ip: str = ""
    ring_port: int = field(default=0, metadata={"min": 0})
    stats_file: str = ""  # empty: <devices>/db-replicator.json
    log_level: str = field(default="INFO", metadata=_LEVELS)


@dataclass(frozen=True)
class AuditorSection:
    """``[auditor]``: re-reading every object at a bounded rate."""

    interval: float = field(default=1800.0, metadata={"min": 0.0})
    files_per_second: float = field(default=20.0, metadata={"min": 0.0})  # 0: unlimited
    bytes_per_second: float = field(default=10_000_000.0, metadata={"min": 0.0})  # 0: unlimited
    chunk_size: int = field(default=65536, metadata={"min": 4096})
    stats_file: str = ""  # empty: <devices>/auditor.json
    log_level: str = field(default="INFO", metadata=_LEVELS)


def load_daemon_config(path: str | Path, section_name: str, cls: type[S]) -> tuple[StorageConfig, S]:
    """``(StorageConfig, section)`` from one storage.conf, read once."""
    storage = load_storage_config(path)
    return storage, storage.section(section_name, cls)


def ring_address(storage: StorageConfig, ring_ip: str, ring_port: int) -> tuple[str, int]:
    """How this node's devices are named in the ring: ip and port."""
    return (ring_ip or storage.storage.bind_ip, ring_port or storage.storage.bind_port)

