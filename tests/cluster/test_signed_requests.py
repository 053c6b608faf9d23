"""A real storage daemon refuses backend requests not signed by the cluster.

Unsigned, forged (another key, another request's signature) and stale
(made longer ago than the TTL allows) requests get 401 before any file is
touched; health and monitoring reads stay open. The rest of the suite is
the proof that signed requests - proxy, replicators, updater, container and
account updates - work.
"""

from __future__ import annotations

import time

import aiohttp
import pytest

from martlet.backend_auth import CLOCK_SKEW, SIGNATURE_HEADER, SIGNATURE_TTL, BackendKey
from martlet.http import on_wire
from tests.cluster.conftest import TEST_KEY, StorageDaemon
from tests.cluster.object_helpers import call, opath, put_object, ts

pytestmark = pytest.mark.cluster


async def raw(daemon: StorageDaemon, method: str, target: str, signature: str | None = None,
              **headers: str) -> tuple[int, str]:
    sent = dict(headers)
    if signature is not None:
        sent[SIGNATURE_HEADER] = signature
    method = on_wire(method, sent)  # as martlet.backend sends it
    async with aiohttp.ClientSession() as plain:  # no signing middleware
        async with plain.request(method, daemon.url(target), headers=sent, data=b"x" if method == "PUT" else None) as r:
            return r.status, await r.text()


def nothing_written(daemon: StorageDaemon) -> bool:
    """Only the empty device directory: no objects/, no tmp/ file."""
    device = daemon.device_path("sda")
    return [p.name for p in device.rglob("*") if p.is_file()] == [] and not (device / "objects").exists()


async def test_unsigned_requests_are_refused_before_anything_is_written(storage_daemon: StorageDaemon) -> None:
    for method in ("PUT", "GET", "HEAD", "POST", "DELETE", "REPLICATE"):
        status, text = await raw(storage_daemon, method, opath(), **{"X-Timestamp": ts(), "Content-Type": "a/b"})
        assert status == 401, method
        if method != "HEAD":
            assert "not signed" in text
    assert nothing_written(storage_daemon)


async def test_a_replicate_is_signed_as_one(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    """Replication's POST is signed as REPLICATE: the signature of a plain
    POST of the same path does not make it one, nor the reverse."""
    now = time.time()
    assert (await raw(storage_daemon, "REPLICATE", "/sda/3", TEST_KEY.sign("POST", "/sda/3", now)))[0] == 401
    assert (await raw(storage_daemon, "POST", opath(), TEST_KEY.sign("REPLICATE", opath(), now),
                      **{"X-Timestamp": ts()}))[0] == 401
    assert (await call(backend, storage_daemon, "REPLICATE", "/sda/3"))[0] == 200  # signed by the session
    assert nothing_written(storage_daemon)


async def test_forged_signatures_are_refused(storage_daemon: StorageDaemon) -> None:
    now = time.time()
    other = BackendKey.from_secret("not this cluster's")
    assert (await raw(storage_daemon, "PUT", opath(), other.sign("PUT", opath(), now), **{"X-Timestamp": ts()}))[0] == 401
    # A good signature of another request does not carry over.
    assert (await raw(storage_daemon, "DELETE", opath(), TEST_KEY.sign("GET", opath(), now),
                      **{"X-Timestamp": ts()}))[0] == 401
    assert (await raw(storage_daemon, "PUT", opath("other"), TEST_KEY.sign("PUT", opath(), now),
                      **{"X-Timestamp": ts()}))[0] == 401
    assert nothing_written(storage_daemon)


async def test_stale_signatures_are_refused(storage_daemon: StorageDaemon, backend: aiohttp.ClientSession) -> None:
    assert (await put_object(backend, storage_daemon, opath(), b"kept"))[0] == 201
    # Made longer ago than the TTL and the clock skew allow: replayed too late.
    made = time.time() - SIGNATURE_TTL - CLOCK_SKEW - 2
    status, text = await raw(storage_daemon, "DELETE", opath(), TEST_KEY.sign("DELETE", opath(), made),
                             **{"X-Timestamp": ts()})
    assert (status, "expired" in text) == (401, True)
    # From too far in the future (a signer's clock far ahead).
    ahead = time.time() + CLOCK_SKEW + 5
    assert (await raw(storage_daemon, "GET", opath(), TEST_KEY.sign("GET", opath(), ahead)))[0] == 401
    status, _, body = await call(backend, storage_daemon, "GET", opath())
    assert (status, body) == (200, b"kept")


async def test_a_fresh_signature_made_elsewhere_is_accepted(storage_daemon: StorageDaemon) -> None:
    """What a signature proves: the key, the method, the target, the time.
    Within its TTL it is accepted whoever sends it (a replay by someone who
    can read backend traffic: docs/security.md)."""
    signature = TEST_KEY.sign("PUT", opath(), time.time())
    status, _ = await raw(storage_daemon, "PUT", opath(), signature, **{"X-Timestamp": ts(), "Content-Type": "a/b"})
    assert status == 201
    status, _ = await raw(storage_daemon, "PUT", opath(), signature, **{"X-Timestamp": ts(), "Content-Type": "a/b"})
    assert status == 201


async def test_health_and_monitoring_reads_stay_open(storage_daemon: StorageDaemon) -> None:
    for path in ("/healthcheck", "/recon", "/metrics"):
        assert (await raw(storage_daemon, "GET", path))[0] == 200, path
    assert (await raw(storage_daemon, "PUT", "/recon"))[0] == 401
    assert (await raw(storage_daemon, "GET", "/healthcheck/sda"))[0] == 401
