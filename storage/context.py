"""What every handler of the storage daemon shares: ``StorageContext``, and
the shape of a handler (``EntityHandler``).

The object, container and account servers and the replication endpoints
are each built once per app from one context (``storage.server`` composes
them); this module is what they import instead of the server, so that the
composition root imports its parts and no part imports it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from martlet.backend import BackendTimeouts
from martlet.backend_client import WholeAnswerClient
from martlet.backend_auth import BackendKey, backend_key
from martlet.errors import ServiceUnavailable
from martlet.hashing import HashSection
from martlet.policies import StoragePolicies
from storage.async_pending import PendingUpdate
from storage.config import StorageConfig
from storage.db.connections import close_thread_connections
from storage.devices import DeviceIO
from storage.diskfile import ObjectLocation, object_location
from storage.layout import DeviceLayout
from storage.paths import EntityPath


class StorageContext:
    """Config, the backend key, the device thread pools and the backend HTTP client.

    Not a frozen record: the client can only be made inside the running
    loop, so ``start()`` opens it when the app starts and ``close()`` closes
    it, and then the device pools, when the app stops.
    """

    def __init__(self, config: StorageConfig) -> None:
        self.config = config
        # ConfigError without a cluster secret: the daemon does not start.
        self.backend_key: BackendKey = backend_key(config.cluster)
        self.devices_root = config.devices_root
        self.hash_settings: HashSection = config.cluster.hash
        self.policies: StoragePolicies = config.cluster.policies
        self.fsync = config.storage.fsync
        self.io = DeviceIO(self.devices_root, config.storage.threads_per_device, close_thread_connections)
        self._client: WholeAnswerClient | None = None
        # This node's own container server's in-process row update
        # (``ContainerServer.local_row``), set by the composition root;
        # None in a daemon without one.
        self.local_rows: Callable[[PendingUpdate], Awaitable[bool]] | None = None
        self._own_host = (config.storage.bind_ip, config.storage.bind_port)

    def is_own_host(self, record: PendingUpdate) -> bool:
        """Whether ``record`` names this daemon's own ip:port (as the ring
        does: the bind address itself, not a wildcard)."""
        return record.ip_port == self._own_host

    async def start(self) -> None:
        """Open the pooled backend client (container and account updates)."""
        timeout = self.config.storage.container_update_timeout
        self._client = WholeAnswerClient(self.backend_key, BackendTimeouts(conn_timeout=timeout, node_timeout=timeout))

    async def close(self) -> None:
        """Close the client, then wait for the disk work still running."""
        if self._client is not None:
            await self._client.close()
        await asyncio.to_thread(self.io.close)

    @property
    def client(self) -> WholeAnswerClient:
        """The backend client; 503 outside ``start()`` .. ``close()``."""
        if self._client is None or self._client.closed:
            raise ServiceUnavailable("backend client not running")
        return self._client

    def layout(self, device: str) -> DeviceLayout:
        return DeviceLayout.of(self.devices_root, device)

    def object_location(self, path: EntityPath, policy: int = 0) -> ObjectLocation:
        """Where ``path``'s object of storage policy ``policy`` lives on its
        device (object paths only)."""
        assert path.names.container is not None and path.names.obj is not None
        return object_location(
            self.layout(path.device).path,
            path.partition,
            path.names.account,
            path.names.container,
            path.names.obj,
            self.hash_settings,
            policy,
        )


class EntityHandler(Protocol):
    """An entity server as the replication endpoints wrap it: it answers
    its requests and releases what it holds on shutdown."""

    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse: ...

    async def close(self) -> None: ...
