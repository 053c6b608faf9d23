"""The proxy's request pipeline: the core controllers, wrapped by features.

A handler takes a request's ``Context`` and answers it. The core handler
(``proxy.controllers.handle``) knows accounts, containers and objects and
nothing else. Each optional feature — large objects, server-side copy; later
bulk, symlinks, versioning, TempURL, quotas, CORS, S3 — is a module with
one entry point, ``wrap(next_handler) -> handler``: it answers the requests
that are its business, and passes the rest on, possibly looking at (or
replacing) the answer on its way back. Features use the shared services
(``proxy.access``, ``proxy.replicas``), never the controllers, and what
they do for a client they do with the client's own rights.

An answer is usually a response the handler has built. An object GET or
HEAD is answered with an ``ObjectStream`` instead, not yet sent, so that a
feature can still look at the object's headers and answer otherwise; the
edge sends whatever comes back (``respond``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from proxy.context import Context
from proxy.object_stream import ObjectStream

Answer = web.StreamResponse | ObjectStream
Handler = Callable[[Context], Awaitable[Answer]]
Feature = Callable[[Handler], Handler]


def compose(core: Handler, features: Sequence[Feature]) -> Handler:
    """``core`` wrapped by ``features``, the first one outermost (it sees
    each request first and its answer last)."""
    handler = core
    for feature in reversed(features):
        handler = feature(handler)
    return handler


async def respond(answer: Answer, request: web.Request) -> web.StreamResponse:
    """Send what the pipeline answered."""
    if isinstance(answer, ObjectStream):
        return await answer.send(request)
    return answer
