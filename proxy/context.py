"""One client request as the proxy's handlers see it.

The context is built once, at the edge (``proxy.app``), and handed down the
pipeline (``proxy.pipeline``): through the features, to a controller, and
into the shared services (``proxy.access``, ``proxy.replicas``). It is a
plain record; what may be done with it is decided in ``proxy.access``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from martlet.swift_path import SwiftPath
from proxy.auth import Identity, verify_tokens
from proxy.state import ProxyState


@dataclass(frozen=True)
class Context:
    """The proxy's state, the client's request, the names its path decodes
    to, and who a valid token says the caller is (None: anonymous)."""

    state: ProxyState
    request: web.Request
    path: SwiftPath
    identity: Identity | None

    @property
    def method(self) -> str:
        return self.request.method


def identify(state: ProxyState, request: web.Request) -> Identity | None:
    """The caller named by a valid token (with the user of a valid
    ``X-Service-Token`` joined to it), or None (anonymous)."""
    token = request.headers.get("X-Auth-Token") or request.headers.get("X-Storage-Token")
    service_token = request.headers.get("X-Service-Token")
    return verify_tokens(state.config.cluster.secret, token, service_token, time.time())
