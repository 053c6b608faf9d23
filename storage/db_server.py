"""What the account and container servers share: the HTTP shell of a database.

Both servers answer the same five verbs on their entity the same way —
PUT creates or revives, POST merges metadata, HEAD/GET answer the info
headers (and a listing for GET), DELETE marks deleted — differing only in
the broker they open, the headers they answer and what a change triggers
(a container reports to its account). This base holds the shared steps;
each server supplies its broker and headers and adds its own row updates.

The HTTP half lives here rather than in ``storage/db/``, which stays free of
aiohttp: it is the SQLite layer that the replicators use as well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from aiohttp import web

from martlet.errors import Conflict, MethodNotAllowed, NotFound
from martlet.reserved import allows_reserved
from martlet.swift_path import SwiftPath
from storage.db import AccountInfo, ContainerInfo, db_path
from storage.db.headers import deleted_headers, metadata_from_headers, require_timestamp
from storage.listing import Entry, ListingParams, listing_content_type, parse_listing_params, render_listing
from storage.paths import EntityPath
from storage.context import StorageContext

InfoT = TypeVar("InfoT", bound=AccountInfo | ContainerInfo)
InfoT_co = TypeVar("InfoT_co", bound=AccountInfo | ContainerInfo, covariant=True)

class DbBroker(Protocol[InfoT_co]):
    """The part of ``AccountBroker`` / ``ContainerBroker`` the shell uses."""

    def get_info(self) -> InfoT_co: ...

    def list_page(self, params: ListingParams) -> list[Entry]: ...

    def update_metadata(self, update: Mapping[str, tuple[str, str]], *, check_totals: bool = False) -> None: ...

    def mark_deleted(self, timestamp: str) -> None: ...


class DatabaseServer(Generic[InfoT]):
    """Shared verbs of a database entity; ``kind`` is "account" or "container"."""

    kind: str
    # How the 405 names it: "an account", "a container".
    kind_phrase: str

    def __init__(self, ctx: StorageContext) -> None:
        self.ctx = ctx

    async def handle(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        raise NotImplementedError

    async def close(self) -> None:
        """Nothing to release, unless a server holds more than its context."""

    def broker(self, path: EntityPath) -> DbBroker[InfoT]:
        raise NotImplementedError

    def db_file(self, path: EntityPath, names: SwiftPath) -> Path:
        """Where the database of ``names`` (an account or a container) lives
        on ``path``'s device and partition."""
        return db_path(
            self.ctx.devices_root,
            path.device,
            names.kind,
            path.partition,
            names.account,
            names.container,
            hash_settings=self.ctx.hash_settings,
        )

    def info_headers(self, info: InfoT) -> dict[str, str]:
        """The HEAD/GET headers of ``info``."""
        raise NotImplementedError

    def listing_name(self, path: EntityPath) -> str:
        """The name a listing is rendered for (the account or the container)."""
        raise NotImplementedError

    async def handle_entity(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        """Route a request on the database itself (not a row update)."""
        handler = {
            "PUT": self.put,
            "POST": self.post,
            "HEAD": self.get,
            "GET": self.get,
            "DELETE": self.delete,
        }.get(request.method)
        if handler is None:
            raise MethodNotAllowed(f"{request.method} not allowed on {self.kind_phrase}")
        return await handler(request, path)

    async def put(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        raise NotImplementedError

    async def delete(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        raise NotImplementedError

    def live_info(self, broker: DbBroker[InfoT]) -> InfoT:
        """``broker``'s info; 404 (with its timestamps) when it is deleted."""
        info = broker.get_info()
        if info.is_deleted:
            raise NotFound(f"{self.kind} deleted", headers=deleted_headers(info))
        return info

    def create_or_put(
        self, broker: DbBroker[InfoT], create: Callable[[], bool], put: Callable[[], None]
    ) -> tuple[bool, InfoT]:
        """Create the database, or put over an existing one (in a thread).

        Returns whether it is new to clients (created, or revived from
        deleted) and its info; a DELETE newer than this PUT wins with 409.
        """
        if create():
            return True, broker.get_info()
        was_deleted = broker.get_info().is_deleted
        put()
        info = broker.get_info()
        if info.is_deleted:
            raise Conflict(f"{self.kind} was deleted after this PUT", headers=deleted_headers(info))
        return was_deleted, info

    def mark_deleted(
        self, broker: DbBroker[InfoT], timestamp: str, check: Callable[[InfoT], None] | None = None
    ) -> tuple[bool, InfoT]:
        """Mark deleted (in a thread); ``check`` may refuse first. Returns
        whether it existed and its info; a PUT newer than this DELETE wins."""
        before = broker.get_info()
        if check is not None:
            check(before)
        existed = not before.is_deleted
        broker.mark_deleted(timestamp)
        info = broker.get_info()
        if not info.is_deleted:
            raise Conflict(f"{self.kind} was put after this DELETE")
        return existed, info

    async def post(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        timestamp = require_timestamp(request.headers)
        metadata = metadata_from_headers(request.headers, self.kind, timestamp)
        broker = self.broker(path)

        def work() -> None:
            self.live_info(broker)
            broker.update_metadata(metadata, check_totals=True)

        await self.ctx.io.run(path.device, work)
        return web.Response(status=204)

    async def get(self, request: web.Request, path: EntityPath) -> web.StreamResponse:
        broker = self.broker(path)
        allow_reserved = allows_reserved(request.headers)
        params = parse_listing_params(request.query, allow_reserved) if request.method == "GET" else None
        content_type = listing_content_type(request.query.get("format"), request.headers.get("Accept"))
        name = self.listing_name(path)
        policy_names = {policy.index: policy.name for policy in self.ctx.policies}

        def work() -> tuple[InfoT, bytes | None]:
            info = self.live_info(broker)
            if params is None:
                return info, None
            entries = broker.list_page(params)
            if not entries and content_type == "text/plain":
                return info, None
            return info, render_listing(entries, content_type, self.kind, name, policy_names)

        info, body = await self.ctx.io.run(path.device, work)
        headers = self.info_headers(info)
        if body is None:  # HEAD, or an empty plain listing: typed as the listing would be (Swift's)
            headers["Content-Type"] = f"{content_type}; charset=utf-8"
            return web.Response(status=204, headers=headers)
        response = web.Response(status=200, body=body, headers=headers)
        response.content_type = content_type
        response.charset = "utf-8"
        return response
