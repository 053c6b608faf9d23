"""``proxy.conf``: the ``[proxy]`` section and the ``[auth]`` users."""

from __future__ import annotations

from dataclasses import dataclass, field

from martlet.config import ConfigFile, load_config, resolve_relative
from martlet.cluster import ClusterConfig, load_cluster_config
from martlet.errors import ConfigError
from martlet.serve import ClientLimits

from proxy.auth import UserTable, parse_users

GIB = 1 << 30


@dataclass(frozen=True)
class ProxySection:
    """``[proxy]`` of proxy.conf; each default is Swift's where Swift has one."""

    bind_ip: str = "127.0.0.1"
    bind_port: int = field(default=8080, metadata={"min": 0})
    workers: int = field(default=1, metadata={"min": 1})
    cluster_conf: str = "martlet.conf"
    log_level: str = "INFO"
    conn_timeout: float = field(default=0.5, metadata={"min": 0.01})
    node_timeout: float = field(default=10.0, metadata={"min": 0.01})
    # A client that stops sending a body for this long is dropped (499); its
    # request line and headers must arrive within as long.
    client_timeout: float = field(default=60.0, metadata={"min": 0.01})
    # Bytes of the request line and of each header line; headers per
    # request; connections served at once by each worker.
    max_header_size: int = field(default=8192, metadata={"min": 1024})
    max_header_count: int = field(default=200, metadata={"min": 100})
    max_clients: int = field(default=1024, metadata={"min": 1})
    token_life: int = field(default=86400, metadata={"min": 1})
    max_file_size: int = field(default=5 * GIB, metadata={"min": 1})
    # Error limiting: this many errors within the interval (seconds), or one
    # 507, and a node is skipped for the interval.
    error_suppression_limit: int = field(default=10, metadata={"min": 1})
    error_suppression_interval: float = field(default=60.0, metadata={"min": 0.0})
    # How long a container's existence and ACLs are cached (seconds).
    recheck_container_existence: float = field(default=10.0, metadata={"min": 0.0})
    ring_check_interval: float = field(default=15.0, metadata={"min": 0.0})
    # Bytes read from a client or a backend at a time.
    chunk_size: int = field(default=65536, metadata={"min": 1024})
    # Account names in URLs are this prefix plus the account of [auth] users.
    reseller_prefix: str = "AUTH_"
    # Static large objects: segments per manifest, bytes of a manifest PUT,
    # nesting of SLOs inside SLOs, and segment HEADs/DELETEs in flight.
    max_manifest_segments: int = field(default=1000, metadata={"min": 1})
    max_manifest_size: int = field(default=8 * 1024 * 1024, metadata={"min": 1024})
    max_slo_recursion_depth: int = field(default=10, metadata={"min": 1})
    slo_concurrency: int = field(default=4, metadata={"min": 1})


    def client_limits(self) -> ClientLimits:
        return ClientLimits(self.client_timeout, self.max_header_size, self.max_header_count, self.max_clients)


@dataclass(frozen=True)
class ProxyConfig:
    path: str
    proxy: ProxySection
    users: UserTable
    cluster: ClusterConfig


def proxy_config_from(config: ConfigFile) -> ProxyConfig:
    section = config.section("proxy", ProxySection)
    cluster = load_cluster_config(resolve_relative(config, section.cluster_conf))
    if not cluster.secret:
        raise ConfigError(f"{cluster.path}: [cluster] secret must be set to sign auth tokens")
    users = parse_users(config.raw("auth"), where=f"{config.path}: [auth]")
    return ProxyConfig(path=config.path, proxy=section, users=users, cluster=cluster)


def load_proxy_config(path: str | None) -> ProxyConfig:
    return proxy_config_from(load_config(path))
