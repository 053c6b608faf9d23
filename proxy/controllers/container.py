"""``/v1/<account>/<container>``: create, stats, listings, metadata, delete.

Container PUT and DELETE carry ``X-Account-Host/Device/Partition`` so that
each container replica updates one account replica; a PUT also carries the
container's storage policy (``policy_headers``). Container info (its
existence and ACLs, ``proxy.access``) is cached briefly for object
requests, and dropped here whenever this proxy changes the container.

The privileged headers (ACLs, sync key, temp-URL keys:
``proxy.authorization.OWNER_HEADERS``) are shown to and set by owners
only; a user granted by an ACL sees the rest and its writes of them are
dropped, as Swift does.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from martlet.errors import BadRequest
from martlet.policies import (
    POLICY_DEFAULT_HEADER,
    POLICY_INDEX_HEADER,
    POLICY_NAME_HEADER,
    StoragePolicies,
)
from proxy.access import authorize_container
from proxy.acl import clean_acl
from proxy.authorization import Grant, owner_view
from proxy.constraints import (
    CONTAINER_LISTING_LIMIT,
    check_metadata,
    check_method,
)
from proxy.container_info import forget_container
from proxy.context import Context
from proxy.controllers.account import ensure_account, listing_query
from proxy.controllers.options import ALLOWED_METHODS
from proxy.headers import backend_response_headers, client_headers_for_backend
from proxy.replicas import (
    new_timestamp,
    quorum_response,
    raise_for_missing,
    read_entity,
    relay,
    wants_newest,
    write_entity,
)


async def handle_container(ctx: Context) -> web.StreamResponse:
    account, container = ctx.path.account, ctx.path.container
    assert container is not None
    method = ctx.method
    check_method(method, ALLOWED_METHODS["container"])
    grant = await authorize_container(ctx)
    if method in ("GET", "HEAD"):
        return await _read(ctx, grant)
    headers = client_headers_for_backend(ctx.request.headers)
    if method in ("PUT", "POST"):
        check_metadata(ctx.request.headers, "container")
        for name, referrers in (("X-Container-Read", True), ("X-Container-Write", False)):
            if headers.get(name):
                headers[name] = clean_acl(headers[name], allow_referrers=referrers)
        headers = owner_view(headers, grant)
    headers.update(ctx.backend_headers)
    headers["X-Timestamp"] = new_timestamp()
    if method == "PUT":
        headers.update(policy_headers(ctx.state.config.cluster.policies, ctx.request.headers))
        await ensure_account(ctx, account)
    forget_container(ctx.state, ctx.path)
    written = await write_entity(ctx.state, method, ctx.path, headers, update_parent=method in ("PUT", "DELETE"))
    forget_container(ctx.state, ctx.path)
    return quorum_response(written)


def policy_headers(policies: StoragePolicies, headers: Mapping[str, str]) -> dict[str, str]:
    """A container PUT's storage policy, for the container servers.

    ``X-Storage-Policy: <name>`` (any of its names, any case) becomes
    ``X-Backend-Storage-Policy-Index``: a new container is made in it, an
    existing one in another policy answers 409. An unknown or deprecated
    name is 400. Without a name (or with an empty one) the default policy
    goes as ``X-Backend-Storage-Policy-Default``, which only a new
    container takes. POST never changes a policy (the header is ignored).
    """
    name = headers.get(POLICY_NAME_HEADER, "").strip()
    if not name:
        return {POLICY_DEFAULT_HEADER: str(policies.default.index)}
    policy = policies.by_name(name)
    if policy is None:
        raise BadRequest(f"Invalid {POLICY_NAME_HEADER} '{name}'")
    if policy.is_deprecated:
        raise BadRequest(f"Storage Policy '{policy.name}' is deprecated")
    return {POLICY_INDEX_HEADER: str(policy.index)}


async def _read(ctx: Context, grant: Grant) -> web.StreamResponse:
    request = ctx.request
    query = listing_query(request, CONTAINER_LISTING_LIMIT)
    headers = {"Accept": request.headers["Accept"]} if "Accept" in request.headers else {}
    answer = await read_entity(ctx.state, ctx.path, ctx.method, headers, query,
                               newest=wants_newest(request.headers))
    raise_for_missing(answer)
    assert answer.response is not None
    shown = owner_view(backend_response_headers(answer.response.headers), grant)
    return await relay(request, answer.response, ctx.state.settings.chunk_size, shown)
