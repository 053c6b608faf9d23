"""Cross-origin resource sharing, a pipeline feature (``[cors]``), with
Swift's rules.

A container allows origins with ``X-Container-Meta-Access-Control-Allow-Origin``
(space-separated, ``*`` for any), optionally ``-Max-Age`` and
``-Expose-Headers``; ``[cors] allow_origin`` allows origins in every
container. Accounts take no part (as in Swift).

* A preflight - ``OPTIONS`` with ``Origin`` on a container or object - is
  answered here without a token: 200 with ``Access-Control-Allow-*`` when
  the origin is allowed and ``Access-Control-Request-Method`` is a method
  the path takes, else 401. (``OPTIONS`` without ``Origin`` is the core's.)
* An actual request with ``Origin`` goes on as usual; its answer, errors
  included, gets ``Access-Control-Allow-Origin`` and
  ``Access-Control-Expose-Headers`` - in ``strict_cors_mode`` only when the
  origin is allowed.

The decisions are pure functions of the request's headers and the
container's settings (``CorsRules``); the container's settings come from
the cached container info (``proxy.access``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from martlet.errors import MartletError
from proxy.container_info import container_info
from proxy.config import CorsSection
from proxy.context import Context
from proxy.pipeline import Answer, Handler, on_response

# What each kind of path takes (the OPTIONS answer's Allow).
ALLOWED_METHODS = {
    "container": ("DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"),
    "object": ("COPY", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"),
}
# Exposed on every CORS answer: the simple response headers, and Swift's own.
EXPOSED = ("cache-control", "content-language", "content-type", "expires", "last-modified", "pragma", "etag",
           "x-timestamp", "x-trans-id", "x-openstack-request-id")


@dataclass(frozen=True)
class CorsRules:
    """One container's CORS settings (its metadata) and the cluster's."""

    allow_origin: str | None = None  # the container's, as set
    max_age: str | None = None
    expose_headers: str | None = None
    cluster_origins: tuple[str, ...] = ()
    cluster_expose: tuple[str, ...] = ()

    @classmethod
    def of(cls, meta: Mapping[str, str], section: CorsSection) -> CorsRules:
        return cls(meta.get("access-control-allow-origin"), meta.get("access-control-max-age"),
                   meta.get("access-control-expose-headers"), section.allow_origin, section.expose_headers)

    def allows(self, origin: str) -> bool:
        allowed = set((self.allow_origin or "").split()) | set(self.cluster_origins)
        return origin in allowed or "*" in allowed

    def origin_headers(self, origin: str, vary: str | None = None) -> dict[str, str]:
        """``Access-Control-Allow-Origin``: ``*`` when the container allows
        any origin, else the origin itself (then the answer varies by it)."""
        if self.allow_origin and self.allow_origin.strip() == "*":
            return {"Access-Control-Allow-Origin": "*"}
        return {"Access-Control-Allow-Origin": origin, "Vary": f"{vary}, Origin" if vary else "Origin"}

    def expose(self, answer_headers: Mapping[str, str]) -> str:
        """The ``Access-Control-Expose-Headers`` of an answer with these headers."""
        names = set(EXPOSED) | {h.lower() for h in self.cluster_expose}
        names |= {h.lower() for h in answer_headers if h.lower().startswith(("x-container-meta-", "x-object-meta-"))}
        names |= {h.lower() for h in (self.expose_headers or "").split()}
        return ", ".join(sorted(names))


def preflight_headers(rules: CorsRules, kind: str, headers: Mapping[str, str]) -> dict[str, str] | None:
    """The 200 answer's headers to a preflight, or None for a 401."""
    origin = headers.get("Origin", "")
    allowed = ALLOWED_METHODS[kind]
    if not rules.allows(origin) or headers.get("Access-Control-Request-Method") not in allowed:
        return None
    out = {"Allow": ", ".join(allowed), **rules.origin_headers(origin)}
    if rules.max_age is not None:
        out["Access-Control-Max-Age"] = rules.max_age
    out["Access-Control-Allow-Methods"] = ", ".join(allowed)
    requested = [h.strip() for h in headers.get("Access-Control-Request-Headers", "").split(",") if h.strip()]
    if requested:
        out["Access-Control-Allow-Headers"] = ", ".join(dict.fromkeys(requested))
        vary = out.get("Vary")
        out["Vary"] = f"{vary}, Access-Control-Request-Headers" if vary else "Access-Control-Request-Headers"
    return out


def actual_headers(rules: CorsRules, origin: str, strict: bool, answer_headers: Mapping[str, str]) -> dict[str, str]:
    """What an actual request's answer gains (nothing it already has)."""
    if strict and not rules.allows(origin):
        return {}
    out = {}
    if "Access-Control-Expose-Headers" not in answer_headers:
        out["Access-Control-Expose-Headers"] = rules.expose(answer_headers)
    if "Access-Control-Allow-Origin" not in answer_headers:
        out.update(rules.origin_headers(origin, answer_headers.get("Vary")))
    return out


def wrap(next_handler: Handler) -> Handler:
    """The pipeline entry point."""

    async def handle(ctx: Context) -> Answer:
        origin = ctx.request.headers.get("Origin")
        kind = ctx.path.kind
        if not origin or kind == "account":
            return await next_handler(ctx)
        rules = await _rules(ctx)
        if ctx.method == "OPTIONS":
            allowed = preflight_headers(rules, kind, ctx.request.headers)
            if allowed is None:
                return web.Response(status=401, headers={"Allow": ", ".join(ALLOWED_METHODS[kind])})
            return web.Response(status=200, headers=allowed)
        strict = ctx.state.config.features.cors.strict_cors_mode

        async def add_headers(response: web.StreamResponse) -> None:
            response.headers.update(actual_headers(rules, origin, strict, response.headers))

        on_response(ctx, add_headers)
        return await next_handler(ctx)

    return handle


async def _rules(ctx: Context) -> CorsRules:
    """The rules of the path's container (a missing one allows what the
    cluster allows, and tells nobody it is missing)."""
    section = ctx.state.config.features.cors
    try:
        info = await container_info(ctx.state, ctx.path.container_path())
    except MartletError:
        return CorsRules.of({}, section)
    return CorsRules.of(info.meta, section)
