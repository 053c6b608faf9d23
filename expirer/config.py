"""``[expirer]`` of storage.conf: the expirer runs on a storage node, beside
the daemons of ``replicator.config``, and reads the same file once."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExpirerSection:
    """``[expirer]`` keys."""

    interval: float = field(default=300.0, metadata={"min": 0.0})  # seconds between passes
    concurrency: int = field(default=8, metadata={"min": 1})  # tasks in flight
    # Tasks started per second at most (each one object DELETE to every
    # replica plus one row DELETE); 0: unlimited.
    tasks_per_second: float = field(default=50.0, metadata={"min": 0.0})
    # Rows read per page of a task container's listing.
    listing_limit: int = field(default=1000, metadata={"min": 1})
    conn_timeout: float = field(default=0.5, metadata={"min": 0.001})
    node_timeout: float = field(default=10.0, metadata={"min": 0.001})
    # How this node appears in the ring (decides its share of the tasks);
    # empty/0: [storage] bind_ip/bind_port.
    ring_ip: str = ""
    ring_port: int = field(default=0, metadata={"min": 0})
    # Where each pass's figures go as JSON; empty: <devices>/expirer.json.
    stats_file: str = ""
    log_level: str = field(default="INFO", metadata={"choices": ("DEBUG", "INFO", "WARNING", "ERROR")})
