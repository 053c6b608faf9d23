"""The storage daemon's configuration: ``[storage]`` of storage.conf.

Parsed once by ``load_storage_config``; every other module receives the typed
``StorageConfig`` and never reads a file itself: the sections other parts of
the node own (``[container-server]``, the pass daemons' ``stats_file``) are
typed from the same parsed file through ``StorageConfig.section``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from martlet.cluster import ClusterConfig, load_cluster_config
from martlet.config import ConfigFile, load_config, resolve_relative
from martlet.serve import ClientLimits

T = TypeVar("T")


@dataclass(frozen=True)
class StorageSection:
    """``[storage]`` keys, with the defaults a production node would use."""

    devices: str = "/srv/node"
    bind_ip: str = "127.0.0.1"
    bind_port: int = field(default=6200, metadata={"min": 0})
    workers: int = field(default=1, metadata={"min": 1})
    cluster_conf: str = "/etc/martlet/martlet.conf"
    # Threads per device: blocking file work for one disk never waits on another.
    threads_per_device: int = field(default=4, metadata={"min": 1})
    # fsync data files and directories before answering; off only for tests/benches.
    fsync: bool = True
    # Bytes per disk read or write of replication (one thread-pool hop); an
    # object PUT of at most this is written in one hop. Object bodies
    # otherwise go in storage.object_body.BODY_CHUNK pieces.
    disk_chunk_size: int = field(default=262144, metadata={"min": 4096})
    # Send object bodies with os.sendfile (storage.object_body); off, the
    # daemon reads each chunk and writes it to the socket.
    sendfile: bool = True
    # Seconds a client may stay silent while sending a body; its request
    # line and headers must arrive within as long.
    client_timeout: float = field(default=60.0, metadata={"min": 0.001})
    # Bytes of the request line and of each header line; headers per
    # request; connections served at once by each worker.
    max_header_size: int = field(default=8192, metadata={"min": 1024})
    max_header_count: int = field(default=200, metadata={"min": 100})
    max_clients: int = field(default=1024, metadata={"min": 1})
    # Seconds for a container update before it is queued in async_pending.
    container_update_timeout: float = field(default=1.0, metadata={"min": 0.001})
    # Tombstones older than this many seconds are removed when a suffix is rehashed.
    reclaim_age: int = field(default=604800, metadata={"min": 0})
    log_level: str = field(
        default="INFO", metadata={"choices": ("DEBUG", "INFO", "WARNING", "ERROR")}
    )

    def client_limits(self) -> ClientLimits:
        return ClientLimits(self.client_timeout, self.max_header_size, self.max_header_count, self.max_clients)


@dataclass(frozen=True)
class StorageConfig:
    """Everything the daemon needs: its section plus the cluster config."""

    storage: StorageSection
    cluster: ClusterConfig
    path: str = "<defaults>"
    # The file as parsed by load_storage_config; None for a config built in
    # code (tests), whose other sections are then defaults plus environment.
    parsed: ConfigFile | None = field(default=None, compare=False, repr=False)

    def section(self, name: str, cls: type[T]) -> T:
        """Another section of the same storage.conf, typed as ``cls``."""
        return (self.parsed or load_config(None)).section(name, cls)

    @property
    def devices_root(self) -> Path:
        return Path(self.storage.devices)


def load_storage_config(path: str | Path | None) -> StorageConfig:
    """Read storage.conf and the martlet.conf its ``cluster_conf`` names."""
    config = load_config(path)
    section = config.section("storage", StorageSection)
    # An empty cluster_conf means defaults plus MARTLET_HASH_* overrides; a
    # named file that is missing is an error, since a wrong hash suffix would
    # silently put every object in the wrong place.
    if section.cluster_conf:
        cluster = load_cluster_config(resolve_relative(config, section.cluster_conf))
    else:
        cluster = load_cluster_config(None)
    devices = str(resolve_relative(config, section.devices))
    section = dataclasses.replace(section, devices=devices)
    return StorageConfig(storage=section, cluster=cluster, path=config.path, parsed=config)
