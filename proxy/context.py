"""One client request as the proxy's handlers see it.

The context is built once, at the edge (``proxy.app``), and handed down the
pipeline (``proxy.pipeline``): through the features, to a controller, and
into the shared services (``proxy.access``, ``proxy.replicas``). It is a
plain record; what may be done with it is decided in ``proxy.access``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from aiohttp import web

from martlet.body import iter_body
from martlet.swift_path import SwiftPath
from proxy.auth import Identity, verify_tokens
from proxy.state import ProxyState

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Context:
    """The proxy's state, the client's request, the names its path decodes
    to, and who a valid token says the caller is (None: anonymous).

    ``body`` replaces the request's own body (a subrequest's, e.g. one file
    of an archive); ``backend_headers`` are headers a feature adds to the
    backend requests of this request's writes (system metadata), which no
    client header can ever become (``proxy.headers`` drops those).
    """

    state: ProxyState
    request: web.Request
    path: SwiftPath
    identity: Identity | None
    body: AsyncIterator[bytes] | None = None
    backend_headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS)

    @property
    def method(self) -> str:
        return self.request.method

    def body_chunks(self) -> AsyncIterator[bytes]:
        """The request's body: a subrequest's own, else the client's in
        ``chunk_size`` pieces (408 for a stalled client, 499 for one gone)."""
        if self.body is not None:
            return self.body
        settings = self.state.settings
        return iter_body(self.request, settings.client_timeout, settings.chunk_size)

    def with_body(self, body: AsyncIterator[bytes]) -> Context:
        """This context with ``body`` as its body."""
        return replace(self, body=body)

    def with_backend_headers(self, headers: Mapping[str, str]) -> Context:
        """This context, its writes also carrying ``headers``."""
        if not headers:
            return self
        return replace(self, backend_headers=MappingProxyType({**self.backend_headers, **headers}))


def identify(state: ProxyState, request: web.Request) -> Identity | None:
    """The caller named by a valid token (with the user of a valid
    ``X-Service-Token`` joined to it), or None (anonymous)."""
    token = request.headers.get("X-Auth-Token") or request.headers.get("X-Storage-Token")
    service_token = request.headers.get("X-Service-Token")
    return verify_tokens(state.config.cluster.secret, token, service_token, time.time())
