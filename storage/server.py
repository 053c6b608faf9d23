"""The storage daemon's aiohttp application and its dispatch.

One app serves every device under the devices root and is at once the
object, container and account server of its node. A request is routed in
three steps, each in one place:

1. the path is parsed and validated (``storage.paths``): bad parts are 400;
2. the device is checked (missing or not a directory is 507);
3. the entity type - by path depth, or ``X-Backend-Type`` - picks a handler
   from the registry built by ``entity_factories``.

Handler protocol (``EntityServer``): an object built once per app from the
shared ``StorageContext``, with ``handle(request, path)`` for the entity
methods and optionally ``replicate(request, path)`` for REPLICATE and
``close()`` for shutdown. Adding an entity type is one entry in
``entity_factories``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

import aiohttp
from aiohttp import web

from martlet.backend import BackendTimeouts, make_session
from martlet.errors import MethodNotAllowed, ServiceUnavailable
from martlet.hashing import HashSection
from martlet.http import STANDARD_MIDDLEWARES
from storage.config import StorageConfig
from storage.devices import DeviceIO
from storage.diskfile import ObjectLocation, object_location
from storage.recon import install as install_recon
from storage.paths import EntityPath, ReplicatePath, entity_type, parse_entity_path, parse_replicate_path

log = logging.getLogger(__name__)

BACKEND_TYPE_HEADER = "X-Backend-Type"


class StorageContext:
    """What every entity server shares: config, device pools, the HTTP session.

    Not a frozen record: the session can only be made inside the running loop,
    so it is set when the app starts and cleared when it stops.
    """

    def __init__(self, config: StorageConfig) -> None:
        self.config = config
        self.devices_root = config.devices_root
        self.hash_settings: HashSection = config.cluster.hash
        self.io = DeviceIO(self.devices_root, config.storage.threads_per_device)
        self._session: aiohttp.ClientSession | None = None

    def object_location(self, path: EntityPath) -> ObjectLocation:
        """Where ``path``'s object lives on its device (object paths only)."""
        assert path.container is not None and path.obj is not None
        return object_location(
            self.devices_root / path.device,
            path.partition,
            path.account,
            path.container,
            path.obj,
            self.hash_settings,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled backend session (container and account updates)."""
        if self._session is None or self._session.closed:
            raise ServiceUnavailable("backend session not running")
        return self._session


@runtime_checkable
class EntityServer(Protocol):
    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse: ...


EntityFactory = Callable[[StorageContext], EntityServer]

CONTEXT_KEY: web.AppKey[StorageContext] = web.AppKey("storage_context", StorageContext)
SERVERS_KEY: web.AppKey[dict[str, EntityServer]] = web.AppKey("entity_servers", dict)


def entity_factories() -> dict[str, EntityFactory]:
    """The registry: entity type -> factory of its server.

    Imports are local so that a broken entity module fails loudly at app
    creation, not at import of this module by unrelated tools.
    """
    from storage.account_server import AccountServer
    from storage.container_server import ContainerServer
    from storage.object_server import ObjectServer

    factories: dict[str, EntityFactory] = {
        "object": ObjectServer,
        "container": ContainerServer,
        "account": AccountServer,
    }
    # Replication endpoints (replicated writes, suffix listings, database
    # sync) wrap these servers; their logic lives in storage.replication.
    from storage.replication import with_replication

    return with_replication(factories)


async def _dispatch(request: web.Request) -> web.StreamResponse:
    servers = request.app[SERVERS_KEY]
    ctx = request.app[CONTEXT_KEY]
    backend_type = request.headers.get(BACKEND_TYPE_HEADER)
    raw_path = request.rel_url.raw_path
    if request.method == "REPLICATE":
        rpath = parse_replicate_path(raw_path)
        kind = (backend_type or "object").strip().lower()
        await ctx.io.check(rpath.device)
        return await _replicate(servers, kind, request, rpath)
    path = parse_entity_path(raw_path)
    kind = entity_type(path.depth, backend_type)
    await ctx.io.check(path.device)
    server = servers.get(kind)
    if server is None:
        raise MethodNotAllowed(f"no {kind} server in this daemon")
    return await server.handle(request, path)


async def _replicate(
    servers: dict[str, EntityServer], kind: str, request: web.Request, path: ReplicatePath
) -> web.StreamResponse:
    server = servers.get(kind)
    replicate = getattr(server, "replicate", None)
    if replicate is None:
        raise MethodNotAllowed(f"REPLICATE not served for {kind}")
    response: web.StreamResponse = await replicate(request, path)
    return response


async def _healthcheck(_request: web.Request) -> web.Response:
    return web.Response(text="OK")


def accept_replicate_verb() -> None:
    """Let this process's aiohttp servers parse the ``REPLICATE`` method.

    aiohttp's C parser (llhttp) knows only a fixed list of HTTP methods and
    rejects Swift's ``REPLICATE`` before any handler runs; its pure-Python
    parser accepts any RFC 9110 token. The parser is chosen per process, so
    this swaps it for every server in the process - correct for all of them,
    somewhat slower at parsing headers (bench/storage_bench.py measures the
    daemon with it).
    """
    from aiohttp import http_parser, web_protocol

    # Assigning to a class name is what mypy refuses; it is the point here.
    web_protocol.HttpRequestParser = http_parser.HttpRequestParserPy  # type: ignore[misc]


def create_app(config: StorageConfig) -> web.Application:
    """The storage daemon: build it here, run it with ``martlet.serve.run_app``."""
    accept_replicate_verb()
    ctx = StorageContext(config)
    app = web.Application(middlewares=STANDARD_MIDDLEWARES, client_max_size=16 * 1024 * 1024)
    app[CONTEXT_KEY] = ctx
    app[SERVERS_KEY] = {kind: factory(ctx) for kind, factory in entity_factories().items()}

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        timeout = config.storage.container_update_timeout
        ctx._session = make_session(BackendTimeouts(conn_timeout=timeout, node_timeout=timeout))
        try:
            yield
        finally:
            await ctx._session.close()
            for server in app[SERVERS_KEY].values():
                close = getattr(server, "close", None)
                if close is not None:
                    await close()
            await asyncio.to_thread(ctx.io.close)

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/healthcheck", _healthcheck)
    install_recon(app, config)  # GET /recon and GET /metrics, before the catch-all
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    return app
