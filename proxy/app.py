"""The proxy's aiohttp application: routes, state, start-up and shutdown.

``create_app(config)`` builds it; ``martlet proxy`` runs it with
``martlet.serve.run_app``; tests build it the same way on port 0. Requests
under ``/v1/`` go down the pipeline (``proxy.pipeline``): the features in
``FEATURES`` around the core controllers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp import web

from martlet.errors import BadRequest
from martlet.http import STANDARD_MIDDLEWARES, Handler as RequestHandler
from martlet.logs import trans_id_var
from proxy import large_objects, server_copy
from proxy.auth import authenticate, make_token
from proxy.config import ProxyConfig
from proxy.constraints import split_swift_path
from proxy.context import Context, identify
from proxy.controllers import handle
from proxy.info import info_document
from proxy.metrics import install as install_metrics
from proxy.pipeline import Feature, Handler, compose, respond
from proxy.state import ProxyState

STATE: web.AppKey[ProxyState] = web.AppKey("proxy_state", ProxyState)

# Outermost first: a copy reads its source and writes its destination
# itself, calling on large objects for a manifest source.
FEATURES: tuple[Feature, ...] = (server_copy.wrap, large_objects.wrap)


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
    state = request.app[STATE]
    settings = state.settings
    return web.json_response(info_document(settings.max_file_size, settings.max_manifest_segments,
                                           settings.max_manifest_size, state.config.cluster.policies))


async def healthcheck_handler(_request: web.Request) -> web.Response:
    return web.Response(text="OK")


def swift_handler(pipeline: Handler) -> RequestHandler:
    """``/v1/...``: the request's context, down the pipeline."""

    async def handle_request(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        version, path = split_swift_path(request.rel_url.raw_path)
        if version != "v1":
            raise BadRequest("Invalid path: version must be v1")
        ctx = Context(state, request, path, identify(state, request))
        return await respond(await pipeline(ctx), request)

    return handle_request


async def _add_trans_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer, streamed or not, carries the transaction id.

    Plain responses are prepared after the middlewares returned (and the
    context variable was reset), so the id the middleware set wins.
    """
    trans_id = response.headers.get("X-Trans-Id") or trans_id_var.get()
    response.headers["X-Trans-Id"] = trans_id
    response.headers["X-Openstack-Request-Id"] = trans_id


def create_app(config: ProxyConfig) -> web.Application:
    state = ProxyState(config)
    app = web.Application(middlewares=STANDARD_MIDDLEWARES)
    app[STATE] = state

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.close()

    app.cleanup_ctx.append(lifecycle)
    app.on_response_prepare.append(_add_trans_id)
    for path in ("/auth/v1.0", "/auth/v1.0/", "/v1.0", "/v1.0/"):
        app.router.add_get(path, auth_handler)
    app.router.add_get("/info", info_handler)
    app.router.add_get("/healthcheck", healthcheck_handler)
    install_metrics(app, state)  # GET /metrics (proxy.metrics)
    swift = swift_handler(compose(handle, FEATURES))
    app.router.add_route("*", "/v1/{tail:.*}", swift)
    app.router.add_route("*", "/v1", swift)
    return app
