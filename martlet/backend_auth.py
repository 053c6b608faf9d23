"""Signed backend requests: what lets a storage daemon tell the cluster's own
proxies and daemons from anything else that can reach its port.

Every request a proxy or daemon sends to a storage daemon carries
``X-Backend-Signature: v1:<expires>:<hmac>``, where ``<hmac>`` is the
hex HMAC-SHA256, under the cluster's backend key, of::

    <METHOD> <request target> <expires>

``<request target>`` is the raw path and query exactly as sent on the
request line (``/d1/42/AUTH_a/c/o%20x?multipart-manifest=get``), so the
signer and the checker compare the same bytes without re-quoting anything;
spaces cannot occur in a request target, so the message is unambiguous.
``<expires>`` is the signing time plus ``SIGNATURE_TTL`` in whole seconds:
one number states both when the request was signed and until when it is
good, and the checker refuses one that names a time further ahead than
the TTL allows (so a node with a fast clock cannot mint long-lived
signatures). ``CLOCK_SKEW`` is the slack granted both ways between nodes'
clocks (they are NTP-synced, as X-Timestamp ordering already requires).

Headers and bodies are not signed (bodies are streamed, and signing a
header subset buys little): the signature proves "sent by a holder of the
key, recently, for this method and target". It does not stop someone who
can read backend traffic from replaying a request within its TTL, or
altering its headers or body in flight; that needs a private backend
network (or TLS), see docs/security.md.

The key: ``[cluster] backend_secret`` of martlet.conf or, when that is
empty, ``[cluster] secret`` (the token secret), in both cases put through
HMAC with a fixed label, so that the key that signs backend requests is
never the key that signs auth tokens. ``backend_key`` is the one place
that reads either secret for this purpose; ``signing_middleware`` (which
``martlet.backend.make_session`` installs in every backend session) the
one place that signs and ``checking_middleware`` (which the storage daemon
installs) the one place that checks.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from aiohttp import ClientHandlerType, ClientMiddlewareType, ClientRequest, ClientResponse, web
from aiohttp.typedefs import Middleware

from martlet.cluster import ClusterConfig
from martlet.errors import ConfigError, Unauthorized
from martlet.http import Handler, verb, verb_of

SIGNATURE_HEADER = "X-Backend-Signature"
VERSION = "v1"
SIGNATURE_TTL = 30  # seconds a signature is good for after it is made
CLOCK_SKEW = 15  # seconds of clock difference tolerated between two nodes
# Domain separation: the backend key differs from the token key even when
# both come from the same [cluster] secret.
_KEY_LABEL = b"martlet backend request signing v1"

Clock = Callable[[], float]


class BackendAuthError(Unauthorized):
    """A storage daemon's 401: the request is unsigned, forged or stale."""


@dataclass(frozen=True)
class BackendKey:
    """The key every node of a cluster shares for backend requests."""

    key: bytes = field(repr=False)  # never in logs or tracebacks

    @classmethod
    def from_secret(cls, secret: str) -> BackendKey:
        if not secret:
            raise ValueError("an empty secret makes no backend key")
        return cls(hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest())

    def _mac(self, method: str, target: str, expires: int) -> str:
        message = f"{method.upper()} {target} {expires}".encode("utf-8", "surrogateescape")
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def sign(self, method: str, target: str, now: float) -> str:
        """The ``X-Backend-Signature`` value for one request sent at ``now``."""
        expires = int(now) + SIGNATURE_TTL
        return f"{VERSION}:{expires}:{self._mac(method, target, expires)}"

    def check(self, method: str, target: str, value: str | None, now: float) -> None:
        """Raise ``BackendAuthError`` unless ``value`` signs this request and is fresh."""
        if not value:
            raise BackendAuthError("backend request not signed")
        version, _, rest = value.partition(":")
        expires_text, _, mac = rest.partition(":")
        if version != VERSION or not expires_text.isdigit() or len(expires_text) > 12 or not mac:
            raise BackendAuthError("backend signature malformed")
        expires = int(expires_text)
        # The MAC first: an outsider learns nothing about our clock.
        if not hmac.compare_digest(mac, self._mac(method, target, expires)):
            raise BackendAuthError("backend signature invalid")
        if expires + CLOCK_SKEW < now:
            raise BackendAuthError("backend signature expired")
        if expires > now + SIGNATURE_TTL + CLOCK_SKEW:
            raise BackendAuthError("backend signature from the future")


def backend_key(cluster: ClusterConfig) -> BackendKey:
    """The cluster's backend key; ConfigError when martlet.conf has no secret,
    since a storage daemon refuses unsigned requests and its peers must sign."""
    secret = cluster.backend_secret or cluster.secret
    if not secret:
        raise ConfigError(
            f"{cluster.path}: [cluster] secret (or backend_secret) must be set: "
            "backend requests are signed with it"
        )
    return BackendKey.from_secret(secret)


def signing_middleware(key: BackendKey, clock: Clock = time.time) -> ClientMiddlewareType:
    """An aiohttp client middleware signing every request of its session."""

    async def sign(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        # The verb signed is the one the receiver acts on (``verb_of``).
        method = verb(request.method, request.headers)
        request.headers[SIGNATURE_HEADER] = key.sign(method, request.url.raw_path_qs, clock())
        return await handler(request)

    return sign


def checking_middleware(
    key: BackendKey, open_paths: Collection[str] = (), clock: Clock = time.time
) -> Middleware:
    """An aiohttp server middleware refusing (401) what is not signed by
    ``key``; GET and HEAD of ``open_paths`` (health and monitoring) pass."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not (request.method in ("GET", "HEAD") and request.path in open_paths):
            target = request.rel_url.raw_path_qs
            key.check(verb_of(request), target, request.headers.get(SIGNATURE_HEADER), clock())
        return await handler(request)

    return check
