"""What the proxy's handlers share: config, rings, backend session, caches.

It lives under one ``web.AppKey``. ``start`` opens the backend session and
loads the rings (then watched in the background, ``proxy.rings``);
``close`` stops both. The app's cleanup context calls them (``proxy.app``),
so they run inside the event loop that serves the requests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import aiohttp

from martlet.backend import BackendTimeouts, make_session
from martlet.backend_client import WholeAnswerClient
from martlet.backend_auth import backend_key
from martlet.errors import ServiceUnavailable
from martlet.policies import policy_string
from proxy.acl import AccountACL
from proxy.config import ProxyConfig
from proxy.error_limiter import ErrorLimiter
from proxy.rings import RingWatcher
from ring import Ring

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
    """What object requests (and features: quotas, CORS) need to know about
    their container: its ACLs, its storage policy (whose ring places its
    objects), stats and metadata. Metadata is keyed by the lower-case name after
    ``X-Container-Meta-`` / ``X-Container-Sysmeta-``."""

    read_acl: str
    write_acl: str
    storage_policy: int = 0
    object_count: int = 0
    bytes_used: int = 0
    meta: Mapping[str, str] = field(default_factory=dict)
    sysmeta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountInfo:
    """An account's stats and metadata, as features need them (quotas,
    quoted ETags); keyed like ``ContainerInfo``'s."""

    object_count: int = 0
    bytes_used: int = 0
    container_count: int = 0
    meta: Mapping[str, str] = field(default_factory=dict)
    sysmeta: Mapping[str, str] = field(default_factory=dict)


class ProxyState:
    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.settings = config.proxy
        self.limiter = ErrorLimiter(
            config.proxy.error_suppression_limit, config.proxy.error_suppression_interval
        )
        self.containers: TTLCache[ContainerInfo] = TTLCache(config.proxy.recheck_container_existence)
        self.accounts: TTLCache[bool] = TTLCache(config.proxy.recheck_container_existence)
        self.account_acls: TTLCache[AccountACL] = TTLCache(config.proxy.recheck_container_existence)
        self.account_infos: TTLCache[AccountInfo] = TTLCache(config.proxy.recheck_container_existence)
        self.rings = RingWatcher(
            config.cluster.ring_paths(),
            config.cluster.hash,
            config.proxy.ring_check_interval,
        )
        self.backend_key = backend_key(config.cluster)
        self._session: aiohttp.ClientSession | None = None
        self._client: WholeAnswerClient | None = None

    async def start(self) -> None:
        """Open the backend session and load the rings (RingError if one
        cannot be loaded: the proxy does not start without its rings)."""
        settings = self.settings
        timeouts = BackendTimeouts(settings.conn_timeout, settings.node_timeout)
        self._session = make_session(self.backend_key, timeouts)
        self._client = WholeAnswerClient(self.backend_key, timeouts)
        try:
            await self.rings.start()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop watching the rings and close the backend session."""
        await self.rings.close()
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise ServiceUnavailable("backend session not running")
        return self._session

    @property
    def client(self) -> WholeAnswerClient:
        """For backend requests answered whole (``martlet.backend_client``)."""
        if self._client is None or self._client.closed:
            raise ServiceUnavailable("backend client not running")
        return self._client

    def ring(self, kind: str, policy: int = 0) -> Ring:
        """The current ring of ``kind`` (503 while the proxy is not running);
        for objects, the ring of storage policy ``policy`` (503 for a policy
        this proxy does not know)."""
        return self.rings.ring(policy_string(kind, policy) if kind == "object" else kind)

    @property
    def ring_names(self) -> tuple[str, ...]:
        """Every ring this proxy holds: account, container, one object ring per policy."""
        return tuple(self.config.cluster.ring_paths())
