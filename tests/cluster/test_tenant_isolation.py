"""One tenant's bad requests cannot get storage nodes skipped for everyone.

A real cluster whose proxy limits a node after only 3 errors. Tenant
``test`` sends a burst of bad requests - X-Delete-At values no node can
store, oversized metadata, broken SLO manifests - while tenant ``test2``
writes and reads its own objects. Whatever the bad requests get, the other
tenant never sees a 503 and no node ends up error-limited: a failure every
replica gives for the same request is the request's, not the nodes'
(docs/security.md, "Error limiting").
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture

pytestmark = pytest.mark.cluster

cluster = cluster_fixture("tenants", error_suppression_limit=3, error_suppression_interval=300)

BAD_ROUNDS = 30


def bad_requests(cluster: RunningCluster) -> list[int]:
    url, token = cluster.auth("test:tester", "testing")
    auth = {"X-Auth-Token": token}
    requests.put(f"{url}/bad", headers=auth, timeout=30).raise_for_status()  # (again: fine)
    statuses = []
    with requests.Session() as http:
        for i in range(BAD_ROUNDS):
            overflow = ({"X-Delete-At": "1" * 100}, b"x", "")  # beyond any integer a node stores
            shapes = [
                overflow,
                ({"X-Delete-At": "-5"}, b"x", ""),
                overflow,
                ({"X-Object-Meta-Big": "v" * 5000}, b"x", ""),  # over the metadata limits
                ({f"X-Object-Meta-K{n}": "v" for n in range(95)}, b"x", ""),
                ({}, b"{not json", "?multipart-manifest=put"),  # broken manifests
                ({}, json.dumps([{"path": "/bad/missing", "etag": "x", "size_bytes": 1}]).encode(),
                 "?multipart-manifest=put"),
            ]
            # The first ten in a row reach the storage nodes with nothing in
            # between (a good answer would reset a node's error count).
            headers, body, query = overflow if i < 10 else shapes[i % len(shapes)]
            answer = http.put(f"{url}/bad/o{i}{query}", data=body, headers={**auth, **headers}, timeout=60)
            statuses.append(answer.status_code)
    return statuses  # refused (4xx) or stored; a node's 500 becomes 503 until those are fixed


def good_traffic(cluster: RunningCluster, rounds: int) -> list[tuple[str, int]]:
    url, token = cluster.auth("test2:tester2", "testing2")
    auth = {"X-Auth-Token": token}
    requests.put(f"{url}/good", headers=auth, timeout=30).raise_for_status()
    seen = []
    with requests.Session() as http:
        for i in range(rounds):
            body = f"object {i}".encode()
            put = http.put(f"{url}/good/o{i}", data=body, headers=auth, timeout=60)
            get = http.get(f"{url}/good/o{i}", headers=auth, timeout=60)
            seen += [(f"PUT o{i}", put.status_code), (f"GET o{i}", get.status_code)]
            if get.status_code == 200:
                assert get.content == body
    return seen


def limited_nodes(cluster: RunningCluster) -> float:
    text = requests.get(f"{cluster.proxy}/metrics", timeout=10).text
    lines = [line for line in text.splitlines() if line.startswith("martlet_proxy_error_limited_nodes ")]
    return float(lines[0].split()[1])


def test_a_burst_of_bad_requests_limits_no_node(cluster: RunningCluster) -> None:
    # Alone: no good answer in between resets a node's error count.
    bad_requests(cluster)
    assert limited_nodes(cluster) == 0
    failed = [(what, status) for what, status in good_traffic(cluster, 10) if status not in (200, 201)]
    assert failed == [], failed


def test_bad_requests_of_one_tenant_do_not_starve_another(cluster: RunningCluster) -> None:
    with ThreadPoolExecutor(2) as pool:
        bad = pool.submit(bad_requests, cluster)
        good = pool.submit(good_traffic, cluster, BAD_ROUNDS)
        bad.result(timeout=600)
        during = good.result(timeout=600)
    after = good_traffic(cluster, 10)  # and once the burst is over
    failed = [(what, status) for what, status in during + after if status not in (200, 201)]
    assert failed == [], failed
    assert limited_nodes(cluster) == 0
