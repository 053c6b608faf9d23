"""Raw HTTP as one of the demo users, for the feature cluster tests
(``test_bulk.py``, ``test_proxy_features.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster, start_cluster

User = tuple[str, str]
OWNER: User = ("test:tester", "testing")
STRANGER: User = ("test:tester3", "testing3")  # no role: acts through ACLs only
RESELLER: User = ("admin:admin", "admin")
OTHER_OWNER: User = ("test2:tester2", "testing2")  # owns AUTH_test2


def call(cluster: RunningCluster, method: str, path: str = "", user: User | None = OWNER,
         headers: dict[str, str] | None = None, account: User = OWNER, **kwargs: Any) -> requests.Response:
    """``method`` on ``path`` under ``account``'s user's account, as
    ``user`` (None: anonymous)."""
    base, _ = cluster.auth(*account)
    hdrs = dict(headers or {})
    if user is not None:
        hdrs["X-Auth-Token"] = cluster.auth(*user)[1]
    return requests.request(method, f"{base}/{path}" if path else base, headers=hdrs, timeout=60, **kwargs)


def exists(cluster: RunningCluster, path: str) -> bool:
    status = call(cluster, "HEAD", path).status_code
    assert status in (200, 204, 404)
    return status != 404


def feature_cluster(name: str, **environ: str) -> Any:
    """A module-scoped ``cluster`` fixture whose daemons start with
    ``environ`` set (``MARTLET_<SECTION>_<KEY>`` reaches feature sections,
    which the dev launcher's proxy options do not)."""

    @pytest.fixture(scope="module")
    def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
        with pytest.MonkeyPatch.context() as env:
            for key, value in environ.items():
                env.setenv(key, value)
            running = start_cluster(tmp_path_factory.mktemp(name))
        try:
            yield running
        finally:
            running.close()

    return cluster
