"""What the proxy's handlers share: caches, and the running session and rings."""

from __future__ import annotations

from array import array
from pathlib import Path

import pytest

from martlet.cluster import RING_KINDS, ClusterConfig
from martlet.errors import ServiceUnavailable
from martlet.hashing import HashSection
from proxy.config import ProxyConfig, ProxySection
from proxy.state import ProxyState, TTLCache
from ring import Device, Ring, save_ring


def test_ttl_cache():
    cache: TTLCache[int] = TTLCache(ttl=60)
    cache.put("a", 1)
    assert cache.get("a") == 1
    cache.pop("a")
    assert cache.get("a") is None
    off: TTLCache[int] = TTLCache(ttl=0)
    off.put("a", 1)
    assert off.get("a") is None


async def test_start_opens_the_session_and_loads_the_rings_close_ends_both(tmp_path: Path) -> None:
    hash_settings = HashSection(path_prefix="", path_suffix="test")
    device = Device(0, 1, 1, "127.0.0.1", 6200, "d0", 1.0)
    for kind in RING_KINDS:
        save_ring(Ring(2, [device], [array("H", [0] * 4)], hash_settings), tmp_path / f"{kind}.ring")
    cluster = ClusterConfig(path="<test>", hash=hash_settings, ring_dir=tmp_path, secret="s")
    state = ProxyState(ProxyConfig(path="<test>", proxy=ProxySection(), users={}, cluster=cluster))
    with pytest.raises(ServiceUnavailable):
        _ = state.session
    await state.start()
    try:
        assert not state.session.closed
        assert state.ring("container").get_nodes("a", "c")[1] == [device]
    finally:
        await state.close()
    with pytest.raises(ServiceUnavailable):
        _ = state.session
    with pytest.raises(ServiceUnavailable):
        state.ring("object")
