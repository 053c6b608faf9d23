"""A container's Last-Modified moves with a PUT or a POST, not with object writes (Swift's)."""

from __future__ import annotations

from dataclasses import replace

from martlet.conditional import http_date
from martlet.policies import StoragePolicies
from storage.db.headers import container_headers
from storage.db.container import ContainerInfo

ZERO = "0000000000.00000"


def make_container_info(put_timestamp: str) -> ContainerInfo:
    return ContainerInfo("a", "c", put_timestamp, put_timestamp, ZERO, put_timestamp, 0, 0, put_timestamp,
                         (put_timestamp, ZERO, 0, 0), None, {})


def test_last_modified_is_the_newest_of_put_and_metadata() -> None:
    info = make_container_info(put_timestamp="1700000000.50000")
    assert container_headers(info, StoragePolicies())["Last-Modified"] == http_date(1700000001)
    posted = replace(info, metadata={"x-container-meta-a": ("v", "1700000100.00001")})
    assert container_headers(posted, StoragePolicies())["Last-Modified"] == http_date(1700000101)
    removed = replace(info, metadata={"x-container-meta-a": ("", "1700000200.00000")})
    assert container_headers(removed, StoragePolicies())["Last-Modified"] == http_date(1700000200)
