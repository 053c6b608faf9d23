"""The proxy's aiohttp application: routes, state, start-up and shutdown.

``create_app(config)`` builds it; ``martlet proxy`` runs it with
``martlet.serve.run_app``; tests build it the same way on port 0.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp import web

from martlet.backend import BackendTimeouts, make_session
from martlet.cluster import RING_KINDS
from martlet.errors import BadRequest
from martlet.http import STANDARD_MIDDLEWARES
from martlet.logs import trans_id_var
from proxy.auth import authenticate, make_token
from proxy.config import ProxyConfig
from proxy.constraints import split_swift_path
from proxy.controllers.account import handle_account
from proxy.controllers.base import Context, identify
from proxy.controllers.container import handle_container
from proxy.controllers.object import handle_object
from proxy.info import info_document
from proxy.metrics import install as install_metrics
from proxy.state import ProxyState

STATE: web.AppKey[ProxyState] = web.AppKey("proxy_state", ProxyState)


async def auth_handler(request: web.Request) -> web.Response:
    """v1 auth: credentials in, a signed token and the storage URL out."""
    state = request.app[STATE]
    user = authenticate(
        state.config.users, request.headers.get("X-Auth-User"), request.headers.get("X-Auth-Key")
    )
    settings = state.settings
    token = make_token(state.config.cluster.secret, user, time.time(), settings.token_life)
    host = request.host or f"{settings.bind_ip}:{settings.bind_port}"
    url = f"{request.scheme}://{host}/v1/{settings.reseller_prefix}{user.account}"
    headers = {
        "X-Auth-Token": token,
        "X-Storage-Token": token,
        "X-Storage-Url": url,
        "X-Auth-Token-Expires": str(settings.token_life),
    }
    return web.Response(status=200, headers=headers, text="")


async def info_handler(request: web.Request) -> web.Response:
    settings = request.app[STATE].settings
    return web.json_response(info_document(settings.max_file_size, settings.max_manifest_segments,
                                           settings.max_manifest_size))


async def healthcheck_handler(_request: web.Request) -> web.Response:
    return web.Response(text="OK")


async def swift_handler(request: web.Request) -> web.StreamResponse:
    """``/v1/...``: pick the controller by the path's depth."""
    state = request.app[STATE]
    path = split_swift_path(request.rel_url.raw_path)
    if path.version != "v1":
        raise BadRequest("Invalid path: version must be v1")
    ctx = Context(state, request, path, identify(state, request))
    if path.obj is not None:
        return await handle_object(ctx)
    if path.container is not None:
        return await handle_container(ctx)
    return await handle_account(ctx)


async def _add_trans_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer, streamed or not, carries the transaction id.

    Plain responses are prepared after the middlewares returned (and the
    context variable was reset), so the id the middleware set wins.
    """
    trans_id = response.headers.get("X-Trans-Id") or trans_id_var.get()
    response.headers["X-Trans-Id"] = trans_id
    response.headers["X-Openstack-Request-Id"] = trans_id


def create_app(config: ProxyConfig) -> web.Application:
    # Imported here: only the proxy's running shell needs the ring package.
    from ring import RingReloader

    state = ProxyState(config)
    app = web.Application(middlewares=STANDARD_MIDDLEWARES)
    app[STATE] = state

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        settings = config.proxy
        state._session = make_session(BackendTimeouts(settings.conn_timeout, settings.node_timeout))
        for kind in RING_KINDS:
            state._reloaders[kind] = RingReloader(
                config.cluster.ring_path(kind), config.cluster.hash, check_interval=settings.ring_check_interval
            )
        try:
            yield
        finally:
            await state._session.close()
            state._reloaders.clear()

    app.cleanup_ctx.append(lifecycle)
    app.on_response_prepare.append(_add_trans_id)
    for path in ("/auth/v1.0", "/auth/v1.0/", "/v1.0", "/v1.0/"):
        app.router.add_get(path, auth_handler)
    app.router.add_get("/info", info_handler)
    app.router.add_get("/healthcheck", healthcheck_handler)
    install_metrics(app, state)  # GET /metrics (proxy.metrics)
    app.router.add_route("*", "/v1/{tail:.*}", swift_handler)
    app.router.add_route("*", "/v1", swift_handler)
    return app
