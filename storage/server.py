"""The storage daemon's aiohttp application and its dispatch.

One app serves every device under the devices root and is at once the
object, container and account server of its node. A request is routed in
three steps, each in one place:

0. the request's signature is checked (``martlet.backend_auth``): a request
   not signed with the cluster's backend key, or signed too long ago, is
   401, before anything else looks at it. GET/HEAD of ``OPEN_PATHS`` (health
   and monitoring, which reveal no account, container or object) need none;
1. the path is parsed and validated (``storage.paths``): bad parts are 400;
2. the device is checked (missing or not a directory is 507);
3. the entity type - by path depth, or ``X-Backend-Type`` - picks a handler
   from the registry built by ``entity_factories``.

Handler protocol (``EntityServer``): an object built once per app from the
shared ``StorageContext`` (``storage.context``), with ``handle(request,
path)`` for the entity methods, ``replicate(request, path)`` for REPLICATE
and ``close()`` for shutdown. Adding an entity type is one entry in
``entity_factories``. This module is the composition root: it imports the
servers, and none of them imports it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol

from aiohttp import web

from martlet.backend_auth import checking_middleware
from martlet.errors import MethodNotAllowed
from martlet.http import BACKEND_ONLY, STANDARD_MIDDLEWARES, verb_of
from martlet.serve import SupervisorReport
from storage.account_server import AccountServer
from storage.config import StorageConfig
from storage.container_server import ContainerServer
from storage.context import EntityHandler, StorageContext
from storage.db_replication import DatabaseReplication
from storage.object_server import ObjectServer
from martlet.reserved import allows_reserved
from storage.paths import BACKEND_TYPE_HEADER, ReplicatePath, entity_type, parse_entity_path, parse_replicate_path
from storage.recon import install as install_recon
from storage.replication import ObjectReplication


class EntityServer(EntityHandler, Protocol):
    """What the registry holds for each entity type: a server wrapped in
    its replication endpoints."""

    async def replicate(self, request: web.Request, path: ReplicatePath) -> web.StreamResponse: ...


EntityFactory = Callable[[StorageContext], EntityServer]

CONTEXT_KEY: web.AppKey[StorageContext] = web.AppKey("storage_context", StorageContext)
SERVERS_KEY: web.AppKey[dict[str, EntityServer]] = web.AppKey("entity_servers", dict)

# Answered to GET/HEAD without a signature: load balancers, `martlet dev`'s
# readiness check, `martlet status` and Prometheus read them, and they hold
# device names and figures, never an account, container or object name.
OPEN_PATHS = frozenset({"/healthcheck", "/recon", "/metrics"})


def entity_factories() -> dict[str, EntityFactory]:
    """The registry: entity type -> factory of its server.

    Each entity server is wrapped in its replication endpoints
    (``storage.replication`` for objects, ``storage.db_replication`` for
    databases), so the servers themselves stay unaware of replication.
    """
    return {
        "object": lambda ctx: ObjectReplication(ObjectServer(ctx), ctx),
        "container": lambda ctx: DatabaseReplication(ContainerServer(ctx), ctx, "container"),
        "account": lambda ctx: DatabaseReplication(AccountServer(ctx), ctx, "account"),
    }


async def _dispatch(request: web.Request) -> web.StreamResponse:
    servers = request.app[SERVERS_KEY]
    ctx = request.app[CONTEXT_KEY]
    backend_type = request.headers.get(BACKEND_TYPE_HEADER)
    raw_path = request.rel_url.raw_path
    if verb_of(request) == "REPLICATE":
        rpath = parse_replicate_path(raw_path)
        kind = (backend_type or "object").strip().lower()
        await ctx.io.check(rpath.device)
        return await _replicate(servers, kind, request, rpath)
    path = parse_entity_path(raw_path, allows_reserved(request.headers))
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
    if server is None:
        raise MethodNotAllowed(f"REPLICATE not served for {kind}")
    return await server.replicate(request, path)


async def _healthcheck(_request: web.Request) -> web.Response:
    return web.Response(text="OK")


def create_app(config: StorageConfig, node_report: SupervisorReport | None = None) -> web.Application:
    """The storage daemon: build it here, run it with ``martlet.serve.run_app``
    (or under ``martlet node``, whose ``node_report`` /recon then carries)."""
    ctx = StorageContext(config)
    # The signature check runs inside the error middleware (its 401 is
    # logged and answered like any error) and before any handler.
    middlewares = [*STANDARD_MIDDLEWARES, checking_middleware(ctx.backend_key, OPEN_PATHS)]
    app = web.Application(middlewares=middlewares, client_max_size=16 * 1024 * 1024)
    app[CONTEXT_KEY] = ctx
    app[BACKEND_ONLY] = True  # parsed by llhttp: only signed cluster daemons call it
    app[SERVERS_KEY] = servers = {kind: factory(ctx) for kind, factory in entity_factories().items()}
    # An object server's row update for a container replica of this same
    # node is applied in process (``ContainerServer.local_row``), not sent
    # to itself over HTTP.
    container = servers.get("container")
    if isinstance(container, DatabaseReplication) and isinstance(container.inner, ContainerServer):
        ctx.local_rows = container.inner.local_row

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await ctx.start()
        try:
            yield
        finally:
            # Servers first: a report they still send needs the session.
            for server in app[SERVERS_KEY].values():
                await server.close()
            await ctx.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/healthcheck", _healthcheck)
    install_recon(app, config, node_report)  # GET /recon and GET /metrics, before the catch-all
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    return app
