"""The proxy's aiohttp application: routes, state, start-up and shutdown.

``create_app(config)`` builds it; ``martlet proxy`` runs it with
``martlet.serve.run_app``; tests build it the same way on port 0. Requests
under ``/v1/`` go down the pipeline (``proxy.pipeline``): the features in
``FEATURES`` that proxy.conf switches on, around the core controllers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp import web

from martlet.errors import MethodNotAllowed
from martlet.http import STANDARD_MIDDLEWARES
from martlet.http import Handler as RequestHandler
from proxy import (
    bulk,
    cors,
    etag_quoter,
    formpost,
    large_objects,
    object_versioning,
    quotas,
    server_copy,
    staticweb,
    symlink,
    tempurl,
    versioned_writes,
)
from proxy.auth import authenticate, make_token
from proxy.config import ProxyConfig
from proxy.constraints import split_swift_path
from proxy.context import Context, identify
from proxy.controllers import handle
from proxy.edge import finish_headers
from proxy.info import add_feature_info, info_document
from proxy.metrics import install as install_metrics
from proxy.pipeline import Feature, Handler, compose, respond, run_response_hooks
from proxy.s3api.feature import S3_PATH
from proxy.s3api.feature import wrap as s3api_wrap
from proxy.s3api.target import looks_like_s3
from proxy.state import ProxyState

STATE: web.AppKey[ProxyState] = web.AppKey("proxy_state", ProxyState)

# Outermost first, by name (the proxy.conf section that switches it on).
# S3 comes first: an S3 request becomes Swift requests of the signer's
# account there, which every other feature then sees as Swift requests.
# A temp URL sits before everything that authorizes (as Swift's before
# tempauth): it sets who the caller is; so does a form upload's signature.
# CORS sees every answer, errors included; each item of a bulk request
# goes down everything after bulk (quotas check each file of an archive);
# quotas see a copy before it is made; a copy reads its source and writes
# its destination itself, calling on large objects for a manifest source.
# Versioned writes sit before both, as Swift's sees the PUT a copy or a
# manifest makes: they archive the object a copy or a manifest overwrites.
# Object versioning too: a copy or a manifest written to a versioned object
# is stored as a version, and links (symlink, innermost) are how it points
# at the current one.
FEATURES: tuple[tuple[str, Feature], ...] = (
    ("s3api", s3api_wrap),
    ("cors", cors.wrap),
    ("bulk", bulk.wrap),
    ("tempurl", tempurl.wrap),
    ("formpost", formpost.wrap),
    ("staticweb", staticweb.wrap),
    ("etag_quoter", etag_quoter.wrap),
    ("container_quotas", quotas.wrap_container),
    ("account_quotas", quotas.wrap_account),
    ("versioned_writes", versioned_writes.wrap),
    ("object_versioning", object_versioning.wrap),
    ("server_copy", server_copy.wrap),
    ("large_objects", large_objects.wrap),
    ("symlink", symlink.wrap),
)
# Always on: these have no section.
BUILT_IN = frozenset({"server_copy", "large_objects"})


def pipeline_features(config: ProxyConfig) -> list[Feature]:
    """The features ``config`` switches on, in pipeline order."""
    enabled = config.features.enabled() | BUILT_IN
    return [feature for name, feature in FEATURES if name in enabled]


async def auth_handler(request: web.Request) -> web.Response:
    """v1 auth: credentials in, a signed token and the storage URL out."""
    state = request.app[STATE]
    user = authenticate(
        state.config.users, request.headers.get("X-Auth-User"), request.headers.get("X-Auth-Key")
    )
    settings = state.settings
    token = make_token(state.config.cluster.secret, user, time.time(), settings.token_life)
    host = request.host or f"{settings.bind_ip}:{settings.bind_port}"
    url = f"{request.scheme}://{host}/v1/{state.config.resellers.storage_prefix}{user.account}"
    headers = {
        "X-Auth-Token": token,
        "X-Storage-Token": token,
        "X-Storage-Url": url,
        "X-Auth-Token-Expires": str(settings.token_life),
    }
    return web.Response(status=200, headers=headers, text="")


async def info_handler(request: web.Request) -> web.Response:
    config = request.app[STATE].config
    settings = config.proxy
    document = info_document(settings.max_file_size, settings.max_manifest_segments,
                             settings.max_manifest_size, settings.slo_yield_frequency, config.cluster.policies)
    return web.json_response(add_feature_info(document, config.features))


async def healthcheck_handler(_request: web.Request) -> web.Response:
    return web.Response(text="OK")


def swift_handler(pipeline: Handler, fixed_paths: frozenset[str], s3: bool = False) -> RequestHandler:
    """``/v1/...``: the request's context, down the pipeline; any other
    path is answered as Swift answers it (``split_swift_path``), except the
    paths of the routes above (``fixed_paths``), asked with a method they
    do not take: 405. With ``s3``, a request signed the AWS way goes down
    the pipeline with the placeholder path the s3api feature answers."""

    async def handle_request(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        if s3 and looks_like_s3(request.headers.get("Authorization"), request.rel_url.raw_query_string):
            ctx = Context(state, request, S3_PATH, None)
            return await respond(await pipeline(ctx), request)
        if request.path in fixed_paths:
            raise MethodNotAllowed(headers={"Allow": "GET, HEAD"})
        path = split_swift_path(request.rel_url.raw_path)
        ctx = Context(state, request, path, identify(state, request))
        return await respond(await pipeline(ctx), request)

    return handle_request


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
    app.on_response_prepare.append(finish_headers)  # what every answer carries (proxy.edge)
    app.on_response_prepare.append(run_response_hooks)  # features' header hooks (proxy.pipeline)
    for path in ("/auth/v1.0", "/auth/v1.0/", "/v1.0", "/v1.0/"):
        app.router.add_get(path, auth_handler)
    app.router.add_get("/info", info_handler)
    app.router.add_get("/healthcheck", healthcheck_handler)
    install_metrics(app, state)  # GET /metrics (proxy.metrics)
    # Every other path: a Swift path, or Swift's answer to one (412 "Bad URL"...).
    fixed_paths = frozenset(resource.canonical for resource in app.router.resources())
    swift = swift_handler(compose(handle, pipeline_features(config)), fixed_paths, config.features.s3api.enabled)
    # [\s\S]: any character, newlines (%0A) included, which "." would not match
    app.router.add_route("*", r"/{tail:[\s\S]*}", swift)
    return app
