"""Prometheus metrics every daemon shares: request counts and latency by
method and status, bytes in and out, and ``GET /metrics``.

Each app gets its own ``CollectorRegistry`` (never the process-global one):
tests run several daemons in one process, and each must report only its
own requests. A component adds what only it knows (error-limited nodes,
async_pending depth, replication passes) as a collector, and may register
an async ``refresh`` hook that runs before each scrape, so blocking work
(walking a disk) happens off the event loop and ``collect()`` only reads
what the hook left behind.

Wiring is one call: ``install_metrics(app, collectors, refresh_hooks)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence

import prometheus_client
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector

from martlet.http import EXCHANGE_OBSERVERS, Exchange, verb_of

RefreshHook = Callable[[], Awaitable[None]]

# A scrape in the classic text format (0.0.4), which every Prometheus reads.
CONTENT_TYPE = getattr(prometheus_client, "CONTENT_TYPE_PLAIN_0_0_4", prometheus_client.CONTENT_TYPE_LATEST)

# Labels take only these values, so a client inventing methods cannot grow
# the number of series without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS", "REPLICATE"})

# Seconds; from a fast HEAD on a local disk to a large streamed object.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class HttpMetrics:
    """The per-app registry and the request metrics on it."""

    def __init__(self, namespace: str = "martlet") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests", "Requests answered, by method and status.",
            ["method", "status"], namespace=namespace, registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds", "Time from request to the end of the answer.",
            ["method", "status"], namespace=namespace, registry=self.registry, buckets=LATENCY_BUCKETS,
        )
        self.bytes_in = Counter(
            "http_request_body_bytes", "Request body bytes read.",
            ["method"], namespace=namespace, registry=self.registry,
        )
        self.bytes_out = Counter(
            "http_response_body_bytes", "Response body bytes sent.",
            ["method"], namespace=namespace, registry=self.registry,
        )
        self.refresh_hooks: list[RefreshHook] = []
        # Each series' child, looked up once: ``labels()`` builds the label
        # tuple and takes the metric's lock on every call. Bounded like the
        # series themselves (known methods, three-digit statuses).
        self._by_status: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
        self._by_method: dict[str, tuple[Counter, Counter]] = {}

    def observe(self, method: str, status: int, seconds: float, bytes_in: int, bytes_out: int) -> None:
        label = method if method in KNOWN_METHODS else "other"
        answered = self._by_status.get((label, status))
        if answered is None:
            code = str(status)
            answered = self._by_status[(label, status)] = (self.requests.labels(label, code),
                                                           self.latency.labels(label, code))
        answered[0].inc()
        answered[1].observe(seconds)
        if bytes_in or bytes_out:
            moved = self._by_method.get(label)
            if moved is None:
                moved = self._by_method[label] = (self.bytes_in.labels(label), self.bytes_out.labels(label))
            if bytes_in:
                moved[0].inc(bytes_in)
            if bytes_out:
                moved[1].inc(bytes_out)

    def add_collector(self, collector: Collector) -> None:
        self.registry.register(collector)

    async def scrape(self) -> bytes:
        for hook in self.refresh_hooks:
            await hook()
        return prometheus_client.generate_latest(self.registry)


METRICS: web.AppKey[HttpMetrics] = web.AppKey("metrics", HttpMetrics)


def _bytes_read(request: web.Request) -> int:
    """Body bytes actually read (chunked uploads have no Content-Length)."""
    try:
        return int(request.content.total_bytes)
    except AttributeError:
        return request.content_length or 0


def make_observer(metrics: HttpMetrics) -> Callable[[web.Request, Exchange], None]:
    """What the standard middleware tells the metrics of each request: the
    status the client got (after errors were mapped) and a streamed body
    once it is sent."""

    def observe(request: web.Request, exchange: Exchange) -> None:
        if request.path != "/metrics":  # scrapes would drown the figures
            metrics.observe(verb_of(request), exchange.status, exchange.seconds, _bytes_read(request),
                            exchange.bytes_out)

    return observe


async def metrics_handler(request: web.Request) -> web.Response:
    body = await request.app[METRICS].scrape()
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def install_metrics(
    app: web.Application,
    collectors: Sequence[Collector] = (),
    refresh_hooks: Iterable[RefreshHook] = (),
) -> HttpMetrics:
    """Give ``app`` its registry, the request middleware and ``GET /metrics``.

    Call it while building the app (before it starts).
    """
    metrics = HttpMetrics()
    for collector in collectors:
        metrics.add_collector(collector)
    metrics.refresh_hooks.extend(refresh_hooks)
    app[METRICS] = metrics
    app.setdefault(EXCHANGE_OBSERVERS, []).append(make_observer(metrics))
    app.router.add_get("/metrics", metrics_handler)
    return metrics
