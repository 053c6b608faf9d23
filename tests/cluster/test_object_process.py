"""The real ``martlet storage`` command: serves objects, logs every request."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.cluster.conftest import signed, spawn_storage_process
from tests.cluster.object_helpers import md5, opath, ts

pytestmark = pytest.mark.cluster


def test_martlet_storage_serves_and_logs(tmp_path: Path) -> None:
    daemon = spawn_storage_process(tmp_path)
    try:
        body = b"through the real command"
        answer = requests.put(
            daemon.url(opath("proc/o")),
            data=body,
            headers={"X-Timestamp": ts(), "Content-Type": "text/plain", "X-Trans-Id": "tx-put-1",
                     **signed("PUT", opath("proc/o"))},
            timeout=10,
        )
        assert answer.status_code == 201 and answer.headers["ETag"] == md5(body)
        answer = requests.get(daemon.url(opath("proc/o")),
                              headers={"X-Trans-Id": "tx-get-1", **signed("GET", opath("proc/o"))}, timeout=10)
        assert answer.status_code == 200 and answer.content == body
        answer = requests.head(daemon.url(opath("proc/o")),
                               headers={"X-Trans-Id": "tx-head-1", **signed("HEAD", opath("proc/o"))}, timeout=10)
        assert answer.status_code == 200 and answer.headers["Content-Length"] == str(len(body))
        for path, status in (("/sda/x/a/c/o", 400), ("/nodev/1/a/c/o", 507)):
            assert requests.get(daemon.url(path), headers=signed("GET", path), timeout=10).status_code == status
        # Unsigned: refused before the path or the device is looked at.
        assert requests.get(daemon.url(opath("proc/o")), timeout=10).status_code == 401
        # the object landed under the configured devices root
        assert list(daemon.devices_root.glob("sda/objects/3/*/*/*.data"))
    finally:
        assert daemon.stop() == 0
    access = [line for line in daemon.log_lines() if line.get("logger") == "martlet.access"]
    by_trans = {line["trans_id"]: line for line in access}
    put_line, get_line = by_trans["tx-put-1"], by_trans["tx-get-1"]
    assert (put_line["method"], put_line["status"], put_line["path"]) == ("PUT", 201, opath("proc/o"))
    assert put_line["bytes_in"] == len(body)
    assert (get_line["method"], get_line["status"], get_line["bytes_out"]) == ("GET", 200, len(body))
    assert (by_trans["tx-head-1"]["method"], by_trans["tx-head-1"]["bytes_out"]) == ("HEAD", 0)
    assert all(isinstance(line["duration_ms"], float) for line in access)
    assert {line["status"] for line in access} >= {201, 200, 400, 507}
