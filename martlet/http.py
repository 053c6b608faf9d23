"""aiohttp pieces every daemon shares: the error middleware that maps
``MartletError`` to a response once, transaction ids, the access log, and
the raw bytes behind a request's text.

aiohttp hands a request line and header values over as text decoded from
UTF-8 with surrogate escapes: a byte that is not UTF-8 becomes a lone
surrogate, which nothing downstream can encode (msgpack, the response
writer). ``raw_path_bytes`` gives back the bytes a client sent;
``header_text`` makes a value safe to store and send again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from aiohttp import web

from martlet.errors import MartletError
from martlet.logs import log_fields, new_trans_id, trans_id_var

log = logging.getLogger(__name__)
access_log = logging.getLogger("martlet.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TRANS_ID_HEADER = "X-Trans-Id"
# Replication's suffix-hash request travels as a POST naming its verb here:
# Swift's REPLICATE method is outside llhttp's list, and the storage daemon
# parses with llhttp (``BACKEND_ONLY``). Its signature, access line and
# metrics say REPLICATE (``verb_of``).
REPLICATE_HEADER = "X-Backend-Replicate"
# Set on an app that only the cluster's own daemons talk to (every request
# signed, every path quoted by ``martlet.backend``): its connections are
# parsed by llhttp (``martlet.serve``), and only there does a POST with
# ``REPLICATE_HEADER`` mean REPLICATE.
BACKEND_ONLY: web.AppKey[bool] = web.AppKey("backend_only", bool)


def on_wire(method: str, headers: dict[str, str]) -> str:
    """The method to send for ``method``: a REPLICATE goes as a POST with
    ``REPLICATE_HEADER`` added to ``headers``."""
    if method != "REPLICATE":
        return method
    headers[REPLICATE_HEADER] = "true"
    return "POST"


def verb(method: str, headers: Mapping[str, str]) -> str:
    """What a request with ``method`` and ``headers`` asks (``on_wire`` undone)."""
    if method == "POST" and REPLICATE_HEADER in headers:
        return "REPLICATE"
    return method


def verb_of(request: web.Request) -> str:
    """``verb`` of a request to a ``BACKEND_ONLY`` app; any other app (the
    proxy) takes the method as it came."""
    if request.app.get(BACKEND_ONLY, False):
        return verb(request.method, request.headers)
    return request.method


# What Swift's own answers (errors, bodiless successes it builds) carry.
ANSWER_CONTENT_TYPE = "text/html; charset=UTF-8"


def raw_path_bytes(raw_path: str) -> bytes:
    """A request path as the client sent it, percent-escapes decoded."""
    return unquote_to_bytes(raw_path.encode("utf-8", "surrogateescape"))


def encodable(value: str) -> bool:
    """Whether ``value`` can be sent as UTF-8: a received header's bytes
    that were not UTF-8 are kept as lone surrogates, which cannot."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def header_text(value: str) -> str:
    """A received header value fit to store and send: bytes that were not
    UTF-8 become U+FFFD. aiohttp's writer can send only text (its C writer
    silently drops lone surrogates, its Python one fails on them), so
    such bytes cannot be given back as they came."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def error_response(error: MartletError, request: web.Request | None = None) -> web.Response:
    """A short answer with Swift's content type; HEAD answers carry no body."""
    headers = {"Content-Type": ANSWER_CONTENT_TYPE, **error.headers}
    body = None if request is not None and request.method == "HEAD" else error.reason.encode("utf-8")
    return web.Response(status=error.http_status, body=body, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place a domain error becomes an HTTP status."""
    try:
        return await handler(request)
    except MartletError as exc:
        return error_response(exc, request)
    except web.HTTPException:
        raise
    except ConnectionResetError:
        raise
    except Exception:
        log.exception("unhandled error", extra={"method": request.method, "path": request.path})
        return error_response(MartletError(), request)


def _header_bytes(request: web.Request, response: web.StreamResponse) -> int:
    """Size of the status line and headers exactly as aiohttp serializes them."""
    version = request.version
    size = len(f"HTTP/{version.major}.{version.minor} {response.status} {response.reason}\r\n")
    for key, value in response.headers.items():
        size += len(key.encode("utf-8")) + len(value.encode("utf-8")) + 4
    return size + 2


def _body_bytes(request: web.Request, response: web.StreamResponse) -> int:
    """Body bytes sent: aiohttp's ``body_length`` of a streamed response
    counts the status line and headers too, so they are taken off (an
    answer to HEAD has none to count)."""
    if request.method == "HEAD":
        return 0
    if not response.prepared:
        return response.content_length or 0
    if response.body_length == 0:
        return 0  # prepared but not yet finished (e.g. connection lost)
    return max(0, response.body_length - _header_bytes(request, response))


@dataclass(frozen=True)
class Exchange:
    """What one request came to, as the client saw it."""

    status: int  # 499: the client went away; 500: an exception escaped
    bytes_out: int  # response body bytes
    seconds: float


# Called with every request and what it came to, after the access log
# line: how an app adds its metrics (``martlet.metrics.install_metrics``).
ExchangeObserver = Callable[[web.Request, Exchange], None]
EXCHANGE_OBSERVERS: web.AppKey[list[ExchangeObserver]] = web.AppKey("exchange_observers", list)


def _log_access(request: web.Request, exchange: Exchange) -> None:
    log_fields(
        access_log,
        logging.INFO,
        "request",
        {
            "method": verb_of(request),
            "path": request.rel_url.raw_path,
            "status": exchange.status,
            "bytes_out": exchange.bytes_out,
            "bytes_in": request.content_length or 0,
            "duration_ms": round(exchange.seconds * 1000, 3),
            "remote": request.remote,
        },
    )


@web.middleware
async def exchange_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The outermost of every daemon: adopt the caller's ``X-Trans-Id``
    (backend) or make one (edge), run the request, and account for what it
    came to - the access log line and the app's observers (metrics) -
    whether it answered, raised an HTTP exception or lost the client. One
    middleware rather than three: each layer costs every request."""
    trans_id = request.headers.get(TRANS_ID_HEADER) or new_trans_id()
    token = trans_id_var.set(trans_id)
    started = time.monotonic()
    status = 500
    sent = 0
    try:
        response = await handler(request)
        status = response.status
        sent = _body_bytes(request, response)
        if not response.prepared:
            response.headers[TRANS_ID_HEADER] = trans_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[TRANS_ID_HEADER] = trans_id
        raise
    except ConnectionResetError:
        # The peer went away mid-answer (a proxy that has read enough of a
        # replica, a client that hung up), or the handler cut the
        # connection on purpose: nothing more can be sent. An exception
        # would be aiohttp's "Error handling request" traceback; an
        # unsendable answer on an aborted transport is its quiet
        # "client disconnected".
        status = 499
        if request.transport is not None:
            request.transport.abort()
        return web.StreamResponse(status=499)
    finally:
        exchange = Exchange(status, sent, time.monotonic() - started)
        _log_access(request, exchange)
        for observe in request.app.get(EXCHANGE_OBSERVERS, ()):
            observe(request, exchange)
        trans_id_var.reset(token)


# Order matters: the trans id is set before logging and error mapping see it.
STANDARD_MIDDLEWARES = [exchange_middleware, error_middleware]
