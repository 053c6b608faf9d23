"""The proxy's ``GET /metrics``: the shared request metrics
(``martlet.metrics``) plus which storage nodes error limiting skips.

Error-limited nodes are read at scrape time from the proxy's own
``ErrorLimiter`` through its public ``is_limited``, for every device the
rings name: a node the rings no longer name is not reported.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, Metric

from martlet.errors import ServiceUnavailable
from martlet.metrics import install_metrics
from proxy.error_limiter import node_key
from proxy.state import ProxyState


class ErrorLimitCollector:
    def __init__(self, state: ProxyState) -> None:
        self.state = state

    def ring_nodes(self) -> list[str]:
        keys: set[str] = set()
        for name in self.state.ring_names:
            try:
                ring = self.state.rings.ring(name)
            except ServiceUnavailable:
                continue  # before start-up or after shutdown
            for dev in ring.devices:
                if dev is not None:
                    keys.add(node_key(dev.ip, dev.port, dev.device))
        return sorted(keys)

    def collect(self) -> Iterator[Metric]:
        now = time.monotonic()
        per_node = GaugeMetricFamily(
            "martlet_proxy_node_error_limited",
            "1 while error limiting skips the node (ip:port/device).", labels=["node"])
        limited = 0
        for key in self.ring_nodes():
            flag = self.state.limiter.is_limited(key, now)
            limited += flag
            per_node.add_metric([key], 1.0 if flag else 0.0)
        yield GaugeMetricFamily(
            "martlet_proxy_error_limited_nodes", "Storage nodes error limiting skips now.", value=limited)
        yield per_node


def install(app: web.Application, state: ProxyState) -> None:
    """``GET /metrics`` on the proxy."""
    install_metrics(app, collectors=[ErrorLimitCollector(state)])
