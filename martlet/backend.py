"""The cluster-internal HTTP client: proxy -> storage, storage -> storage.

One pooled, keep-alive ``aiohttp.ClientSession`` per daemon; every request
carries the current transaction id and is signed with the cluster's backend
key (``martlet.backend_auth``: the session signs each request as it is
sent, so no caller can forget to and a retried or queued request gets a
fresh signature). Paths are built here, once, so that every caller quotes
names the same way the storage daemon unquotes them.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from martlet.backend_auth import BackendKey, signing_middleware
from martlet.http import TRANS_ID_HEADER, on_wire
from martlet.logs import trans_id_var
from martlet.netaddr import host_port
from martlet.reserved import ALLOW_RESERVED_HEADER
from martlet.resolver import NAMES, Resolver


# How much of a backend answer's body aiohttp buffers before it stops
# reading the socket (it pauses at twice this). Its default, 64 KiB, made a
# large GET pause and resume the backend connection for every read of the
# socket; this is the proxy's own chunk size.
READ_BUFSIZE = 1024 * 1024


@dataclass(frozen=True)
class BackendTimeouts:
    conn_timeout: float = 0.5  # seconds to open a connection to a node
    node_timeout: float = 10.0  # seconds a node may take for any read


def backend_path(
    device: str,
    partition: int,
    account: str,
    container: str | None = None,
    obj: str | None = None,
) -> str:
    """``/<dev>/<part>/<account>[/<container>[/<object>]]``, percent-quoted."""
    parts = [device, str(partition), account]
    if container is not None:
        parts.append(container)
    if obj is not None:
        parts.append(obj)
    return "/" + "/".join(quote(part, safe="") for part in parts[:4]) + (
        "/" + quote(parts[4], safe="/") if len(parts) > 4 else ""
    )


def backend_url(ip: str, port: int, path: str, query: Mapping[str, str] | None = None) -> URL:
    url = URL(f"http://{host_port(ip, port)}{path}", encoded=True)
    return url.with_query(dict(query)) if query else url


class KeptNames(AbstractResolver):
    """aiohttp's resolver interface over ``martlet.resolver.Resolver``: the
    session finds node names as the whole-answer client does (looked up
    once, kept, refreshed behind), where aiohttp's own cache either looks a
    name up again on a request's path when its entry expires or, with no
    expiry, keeps a node's old address after its container came back with
    a new one."""

    def __init__(self, names: Resolver = NAMES) -> None:
        self._names = names

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [
            {"hostname": host, "host": address, "port": port,
             "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
             "proto": 0, "flags": socket.AI_NUMERICHOST}
            for address in await self._names.addresses(host)
        ]

    async def close(self) -> None:
        """Nothing to release: the names are the process's."""


def make_session(
    key: BackendKey, timeouts: BackendTimeouts = BackendTimeouts(), connections_per_host: int = 64,
    names: Resolver = NAMES,
) -> aiohttp.ClientSession:
    """A pooled session signing every request with ``key``, finding node
    names by ``names`` (the process's, as every backend client); call from
    inside the running loop, close on shutdown."""
    connector = aiohttp.TCPConnector(
        limit=0, limit_per_host=connections_per_host, keepalive_timeout=30,
        resolver=KeptNames(names), use_dns_cache=False,
    )
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=timeouts.conn_timeout, sock_read=timeouts.node_timeout
    )
    # aiohttp gives a POST or PUT without Content-Type "application/octet-stream";
    # a backend POST without one means "keep the object's type", so never invent it.
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        read_bufsize=READ_BUFSIZE,
        skip_auto_headers=("User-Agent", "Content-Type"),
        middlewares=(signing_middleware(key),),
    )


def backend_headers(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """Copy ``headers`` and add the transaction id of the current request."""
    out = dict(headers or {})
    out.setdefault(TRANS_ID_HEADER, trans_id_var.get())
    return out


def outgoing(method: str, path: str, headers: Mapping[str, str] | None) -> tuple[dict[str, str], str]:
    """The headers and method a backend request to ``path`` goes out with
    (before its signature): the transaction id added, ``REPLICATE`` as a
    POST, and a reserved name allowed."""
    sent = backend_headers(headers)
    method = on_wire(method, sent)
    if "%00" in path:  # a reserved name: only a proxy feature can have built this path
        sent[ALLOW_RESERVED_HEADER] = "true"
    return sent, method


async def backend_request(
    session: aiohttp.ClientSession,
    ip: str,
    port: int,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    data: Any = None,
    timeout: aiohttp.ClientTimeout | None = None,
) -> aiohttp.ClientResponse:
    """Send one backend request; the caller reads and releases the response.
    ``REPLICATE`` goes as a POST (``martlet.http.on_wire``)."""
    kwargs: dict[str, Any] = {}
    sent, method = outgoing(method, path, headers)
    if timeout is not None:
        kwargs["timeout"] = timeout
    return await session.request(
        method,
        backend_url(ip, port, path, query),
        headers=sent,
        data=data,
        allow_redirects=False,
        **kwargs,
    )
