"""A container's info as the proxy needs it for its objects: existence,
ACLs (``proxy.access``), stats and metadata (features: quotas, CORS) and
storage policy (``proxy.replicas``, which
places the objects by that policy's ring), read from a container HEAD and
cached briefly (``recheck_container_existence``, positive answers only).

It sits below both of its users: it reads the container through
``proxy.fanout`` directly, so that ``proxy.replicas`` can ask it where an
object lives without an import circle.
"""

from __future__ import annotations

from collections.abc import Mapping

from martlet.errors import NotFound, ServiceUnavailable
from martlet.policies import POLICY_INDEX_HEADER, parse_index
from martlet.swift_path import SwiftPath
from proxy.fanout import read_first
from proxy.headers import entity_metadata
from proxy.state import ContainerInfo, ProxyState


def _cache_key(container: SwiftPath) -> str:
    return f"{container.account}/{container.container}"


async def container_info(state: ProxyState, container: SwiftPath) -> ContainerInfo:
    """Existence, ACLs and storage policy of a container: 404 when a primary
    says it is missing, 503 when no primary answered at all (a handoff's 404
    proves nothing about a container that may live on the unreachable
    primaries)."""
    key = _cache_key(container)
    cached = state.containers.get(key)
    if cached is not None:
        return cached
    ring = state.ring("container")
    part, _ = ring.get_nodes(container.account, container.container)
    answer = await read_first(state, ring, part, "HEAD", container, {})
    if answer.response is None:
        if answer.primary_404:
            raise NotFound("Container not found")
        raise ServiceUnavailable("No container replica answered")
    answer.response.release()
    if not 200 <= answer.response.status < 300:
        raise NotFound("Container not found")
    headers = answer.response.headers
    meta, sysmeta = entity_metadata(headers, "container")
    info = ContainerInfo(headers.get("X-Container-Read", ""), headers.get("X-Container-Write", ""),
                         _policy_index(headers.get(POLICY_INDEX_HEADER)),
                         count_header(headers, "X-Container-Object-Count"),
                         count_header(headers, "X-Container-Bytes-Used"), meta, sysmeta)
    state.containers.put(key, info)
    return info


def count_header(headers: Mapping[str, str], name: str) -> int:
    """A count a server reported (0 when absent or malformed)."""
    value = headers.get(name, "")
    return int(value) if value.isdigit() else 0


def _policy_index(text: str | None) -> int:
    """A container server's index; 0 from one that predates policies."""
    try:
        return parse_index(text) or 0
    except ValueError:
        raise ServiceUnavailable("container replica sent a malformed storage policy index") from None


def forget_container(state: ProxyState, container: SwiftPath) -> None:
    """Drop the cached info of a container this proxy is changing."""
    state.containers.pop(_cache_key(container))


async def object_policy(state: ProxyState, obj: SwiftPath) -> int:
    """The storage policy of ``obj``'s container, whose ring places it.

    A missing container gives policy 0, as Swift's proxy does: the object
    request goes on and finds nothing (a write that needs its container
    has been refused before it gets here). When no container replica
    answered, the policy is unknown: 503, rather than Swift's guess of
    policy 0, which would answer 404 for an object of another policy."""
    try:
        return (await container_info(state, obj.container_path())).storage_policy
    except NotFound:
        return 0
