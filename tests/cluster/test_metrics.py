"""GET /metrics on a running cluster (started as `martlet dev` starts it):
request figures on the proxy and the storage daemons, error-limited nodes,
async_pending depth and the background daemons' last passes."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from swiftclient import client as swift_client

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture, node_down_with_queued_updates, wait_for

pytestmark = pytest.mark.cluster

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


# One error makes a node error-limited, so the test needs no retry loop.
cluster = cluster_fixture("metrics", error_suppression_limit=1,
                          error_suppression_interval=300, conn_timeout=0.5, node_timeout=5)


def scrape(url: str) -> Samples:
    answer = requests.get(f"{url}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and wanted <= set(lab))


def storage_url(cluster: RunningCluster, index: int) -> str:
    return f"http://127.0.0.1:{cluster.spec.storage_ports[index]}"


def test_proxy_counts_requests_latency_and_bytes(cluster: RunningCluster) -> None:
    conn = cluster.connection()
    conn.put_container("metrics")
    body = b"x" * 123_456
    before = scrape(cluster.proxy)
    conn.put_object("metrics", "o", body)
    conn.get_object("metrics", "o")
    with pytest.raises(swift_client.ClientException):
        conn.get_object("metrics", "missing")
    after = scrape(cluster.proxy)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("martlet_http_requests_total", method="PUT", status="201") == 1
    assert grew("martlet_http_requests_total", method="GET", status="200") >= 1
    assert grew("martlet_http_requests_total", method="GET", status="404") == 1
    assert grew("martlet_http_request_duration_seconds_count", method="PUT", status="201") == 1
    assert total(after, "martlet_http_request_duration_seconds_bucket", method="PUT", status="201", le="+Inf") >= 1
    assert grew("martlet_http_request_body_bytes_total", method="PUT") == len(body)
    assert grew("martlet_http_response_body_bytes_total", method="GET") >= len(body)
    assert total(after, "martlet_proxy_error_limited_nodes") == 0
    nodes = [lab for (n, lab), _ in after.items() if n == "martlet_proxy_node_error_limited"]
    assert len(nodes) == 4, "one series per ring device"


def test_storage_daemon_reports_requests_devices_and_passes(cluster: RunningCluster) -> None:
    conn = cluster.connection()
    conn.put_container("storage-metrics")
    conn.put_object("storage-metrics", "o", b"y" * 1000)
    puts = sum(total(scrape(storage_url(cluster, i)), "martlet_http_requests_total", method="PUT", status="201")
               for i in range(4))
    assert puts >= 3 + 3, "three object replicas and three container replicas at least"
    samples = scrape(storage_url(cluster, 0))
    assert total(samples, "martlet_device_mounted", device="d1") == 1
    assert total(samples, "martlet_device_size_bytes", device="d1") > 0
    assert ("martlet_async_pending", (("device", "d1"),)) in samples
    # The replicator, db-replicator and auditor of node 1 run a pass at start.
    wanted = {"object-replicator", "db-replicator", "auditor"}

    def passes_reported() -> bool:
        got = scrape(storage_url(cluster, 0))
        daemons = {dict(lab)["daemon"] for (n, lab), _ in got.items()
                   if n == "martlet_last_pass_finished_timestamp_seconds"}
        return wanted <= daemons

    wait_for(passes_reported, 60, "pass figures on /metrics")
    got = scrape(storage_url(cluster, 0))
    finished = total(got, "martlet_last_pass_finished_timestamp_seconds", daemon="object-replicator")
    assert time.time() - 120 < finished <= time.time() + 1
    assert ("martlet_last_pass_count", (("daemon", "auditor"), ("figure", "files_checked"))) in got


def test_a_stopped_node_is_error_limited_and_updates_queue(cluster: RunningCluster) -> None:
    # Every object write names the container's replicas; whichever lives on
    # storage4 cannot be updated and is queued in async_pending.
    with node_down_with_queued_updates(cluster, 3):
        proxy = scrape(cluster.proxy)
        assert total(proxy, "martlet_proxy_error_limited_nodes") >= 1
        port = cluster.spec.storage_ports[3]
        limited = [dict(lab)["node"] for (n, lab), v in proxy.items()
                   if n == "martlet_proxy_node_error_limited" and v == 1]
        assert limited == [f"127.0.0.1:{port}/d4"]

        def queued() -> bool:
            return sum(total(scrape(storage_url(cluster, i)), "martlet_async_pending") for i in range(3)) >= 1

        wait_for(queued, 30, "async_pending depth on /metrics")


def test_metrics_route_does_not_count_itself(cluster: RunningCluster) -> None:
    for _ in range(3):
        samples = scrape(cluster.proxy)
    assert total(samples, "martlet_http_requests_total", method="GET", status="200") == total(
        scrape(cluster.proxy), "martlet_http_requests_total", method="GET", status="200")


def test_other_methods_share_one_label(cluster: RunningCluster) -> None:
    answer = requests.request("PATCH", f"{cluster.proxy}/healthcheck", timeout=10)
    assert answer.status_code == 405
    samples = scrape(cluster.proxy)
    assert total(samples, "martlet_http_requests_total", method="other", status="405") >= 1
    assert not any(dict(lab).get("method") == "PATCH" for (_, lab) in samples)


def test_the_updaters_last_pass_is_on_metrics(cluster: RunningCluster) -> None:
    """The updater of every node (started as `martlet dev` starts it) leaves
    its pass figures where the storage daemon's /metrics reads them."""

    def updater_figures(index: int) -> Samples | None:
        got = scrape(storage_url(cluster, index))
        return got if total(got, "martlet_last_pass_finished_timestamp_seconds", daemon="updater") > 0 else None

    for index in range(4):
        got = wait_for(lambda: updater_figures(index), 60, f"node {index + 1}'s updater pass on /metrics")
        finished = total(got, "martlet_last_pass_finished_timestamp_seconds", daemon="updater")
        assert time.time() - 120 < finished <= time.time() + 1
        for figure in ("sent", "succeeded", "superseded", "failed", "deferred"):
            assert ("martlet_last_pass_count", (("daemon", "updater"), ("figure", figure))) in got
        assert ("martlet_last_pass_duration_seconds", (("daemon", "updater"),)) in got
