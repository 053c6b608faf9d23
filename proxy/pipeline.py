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

Some answers are streamed before they come back (listings, large objects,
bulk results), so a feature that adjusts an answer's headers (CORS, quoted
ETags, quotas shown on an account) registers a hook with ``on_response``
instead; the edge runs the request's hooks when the answer is prepared,
whoever prepares it, error answers included (``run_response_hooks``).

A feature that acts for the client on other paths (bulk deletes, the files
of an archive) sends each one down the rest of the pipeline as a
``subrequest``: a context of its own with the client's identity and token,
so it is authorized exactly like a request the client made itself, and
seen by every feature further in (quotas see each file of an archive).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from urllib.parse import quote

from aiohttp import web
from multidict import CIMultiDict

from martlet.errors import ClientDisconnect, MartletError, RequestTimeout
from martlet.http import encodable
from martlet.swift_path import SwiftPath
from proxy.context import Context
from proxy.object_stream import ObjectStream

Answer = web.StreamResponse | ObjectStream
Handler = Callable[[Context], Awaitable[Answer]]
Feature = Callable[[Handler], Handler]
# Awaited as the answer is prepared: a hook may look something up then,
# which costs nothing for the answers that turn out not to need it.
ResponseHook = Callable[[web.StreamResponse], Awaitable[None]]

# Each hook with its stage: 0 plain, 1 ``last``, 2 ``final``.
_HOOKS: web.RequestKey[list[tuple[int, ResponseHook]]] = web.RequestKey("martlet_response_hooks", list)
_SUBREQUEST: web.RequestKey[bool] = web.RequestKey("martlet_subrequest", bool)
# Of the client's headers, what a subrequest keeps: who is asking.
_IDENTITY_HEADERS = ("X-Auth-Token", "X-Storage-Token", "Referer")


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


def on_response(ctx: Context, hook: ResponseHook, *, last: bool = False, final: bool = False) -> None:
    """Have ``hook`` adjust the headers of the answer to ``ctx``'s request
    before it is sent. A subrequest's answer is never sent, so its hooks
    never run (``subrequest`` gives each one a list of its own). A ``last``
    hook runs after every other, whenever registered: it may rewrite what
    features further in set (object versioning, a link's Content-Location).
    A ``final`` one runs after those: the S3 API's, which renames every
    header the Swift side set."""
    hooks = ctx.request.get(_HOOKS)
    if hooks is None:
        hooks = ctx.request[_HOOKS] = []
    hooks.append((2 if final else 1 if last else 0, hook))


async def run_response_hooks(request: web.Request, response: web.StreamResponse) -> None:
    """The app's ``on_response_prepare`` signal: the request's hooks, in
    the order they were registered within each stage."""
    if request.get(_SUBREQUEST):
        # It would write into the client's answer: a bug, made loud.
        raise RuntimeError(f"a subrequest's answer is being sent ({request.method} {request.path})")
    hooks = request.get(_HOOKS)
    if not hooks:
        return
    for _, hook in sorted(hooks, key=_stage):  # stable: registration order within a stage
        await hook(response)


def _stage(entry: tuple[int, ResponseHook]) -> int:
    return entry[0]


def swift_raw_path(path: SwiftPath) -> str:
    """``/v1/<account>[/<container>[/<object>]]``, each name quoted."""
    names = [n for n in (path.account, path.container, path.obj) if n is not None]
    return "/v1/" + "/".join(quote(n, safe="/" if i == 2 else "") for i, n in enumerate(names))


def subrequest(ctx: Context, method: str, path: SwiftPath, headers: Mapping[str, str] | None = None,
               body: AsyncIterator[bytes] | None = None, query: str = "") -> Context:
    """A request the client could have made, for a feature to send down the
    rest of the pipeline: ``method`` on ``path`` with the client's identity
    headers plus ``headers``, the raw ``query`` (none by default), and
    ``body`` as its body.

    Its answer must not be sent: the aiohttp request is a clone sharing the
    client's connection, so whatever streams an answer itself (a listing)
    is no subrequest's business.
    """
    kept: CIMultiDict[str] = CIMultiDict()
    for name in _IDENTITY_HEADERS:
        if name in ctx.request.headers:
            kept[name] = ctx.request.headers[name]
    kept.update(headers or {})
    kept = CIMultiDict((k, v) for k, v in kept.items() if encodable(v))
    raw = swift_raw_path(path) + (f"?{query}" if query else "")
    request = ctx.request.clone(method=method, rel_url=raw, headers=kept)
    request[_HOOKS] = []  # the clone's state is a copy of the client's
    request[_SUBREQUEST] = True
    return Context(ctx.state, request, path, ctx.identity, body)


async def status_of(handler: Handler, sub: Context) -> int:
    """The status ``handler`` answers the subrequest ``sub`` with, an
    error's included. A client gone or stalled is no subrequest's failure
    but the whole request's: that error propagates."""
    try:
        answer = await handler(sub)
    except (ClientDisconnect, RequestTimeout):
        raise
    except MartletError as exc:
        return exc.http_status
    if isinstance(answer, ObjectStream):
        answer.close()  # a read: its body is nobody's business here
    return answer.status if isinstance(answer, web.StreamResponse) else answer.response.status
