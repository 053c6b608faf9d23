"""What the proxy's handlers share: config, rings, backend session, caches.

It lives under one ``web.AppKey``; the session and ring reloaders are
created and closed by the app's cleanup context (``proxy.app``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generic, TypeVar

import aiohttp

from martlet.errors import ServiceUnavailable
from proxy.config import ProxyConfig
from proxy.error_limiter import ErrorLimiter
from ring import Ring, RingReloader

T = TypeVar("T")


class TTLCache(Generic[T]):
    """A small time-bounded cache (container and account existence)."""

    def __init__(self, ttl: float, max_entries: int = 10000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: str, value: T) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude, but bounded; a miss only costs a HEAD
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def pop(self, key: str) -> None:
        self._entries.pop(key, None)


@dataclass(frozen=True)
class ContainerInfo:
    """What object requests need to know about their container."""

    read_acl: str
    write_acl: str


class ProxyState:
    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.settings = config.proxy
        self.limiter = ErrorLimiter(
            config.proxy.error_suppression_limit, config.proxy.error_suppression_interval
        )
        self.containers: TTLCache[ContainerInfo] = TTLCache(config.proxy.recheck_container_existence)
        self.accounts: TTLCache[bool] = TTLCache(config.proxy.recheck_container_existence)
        self._session: aiohttp.ClientSession | None = None
        self._reloaders: dict[str, RingReloader] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise ServiceUnavailable("backend session not running")
        return self._session

    def ring(self, kind: str) -> Ring:
        """The current ring of ``kind``, reloaded when its file changed."""
        reloader = self._reloaders.get(kind)
        if reloader is None:
            raise ServiceUnavailable(f"{kind} ring not loaded")
        return reloader.ring
