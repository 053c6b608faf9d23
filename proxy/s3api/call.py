"""One authenticated S3 request, and the Swift requests it is made of.

``S3Call`` carries what every operation needs: the client's context with
the signer's identity, the rest of the pipeline, the bucket and key, the
Swift account they live in. ``swift`` sends a Swift subrequest down the
pipeline and turns a Swift error into the S3 error for that resource.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from martlet.body import read_limited
from martlet.errors import ClientDisconnect, MartletError
from martlet.swift_path import SwiftPath
from proxy.access import authorize, authorize_container
from proxy.container_info import container_info
from proxy.context import Context
from proxy.object_stream import ObjectStream
from proxy.object_versioning.containers import listing_rows
from proxy.object_versioning.names import Versioning, versioning_of
from proxy.pipeline import Answer, Handler, subrequest
from proxy.replicas import raise_for_missing, read_entity
from proxy.s3api.errors import S3Error, from_swift_status
from proxy.s3api.target import S3Target


@dataclass(frozen=True)
class S3Call:
    ctx: Context  # the client's request, with the signer's identity
    inner: Handler  # the rest of the pipeline
    target: S3Target
    account: str  # the Swift account (reseller prefix included)
    query: Mapping[str, str]

    @property
    def bucket(self) -> str:
        assert self.target.bucket is not None
        return self.target.bucket

    @property
    def key(self) -> str:
        assert self.target.key is not None
        return self.target.key

    @property
    def owner(self) -> str:
        """The signer as S3 documents name owners (``account:user``, as Swift's s3api)."""
        assert self.ctx.identity is not None
        return self.ctx.identity.name

    @property
    def headers(self) -> Mapping[str, str]:
        return self.ctx.request.headers

    def container(self, bucket: str | None = None) -> SwiftPath:
        return SwiftPath(self.account, bucket or self.bucket)

    def object(self, key: str | None = None, bucket: str | None = None) -> SwiftPath:
        return SwiftPath(self.account, bucket or self.bucket, key if key is not None else self.key)

    async def swift(self, method: str, path: SwiftPath, headers: Mapping[str, str] | None = None,
                    body: AsyncIterator[bytes] | None = None, query: str = "",
                    missing: str = "NoSuchKey", backend: Mapping[str, str] | None = None) -> Answer:
        """The answer of a Swift subrequest; a Swift error becomes the S3
        error of this resource (``missing``: the code of a 404).
        ``backend`` are system metadata its writes carry."""
        sub = subrequest(self.ctx, method, path, headers, body, query).with_backend_headers(backend or {})
        try:
            answer = await self.inner(sub)
        except ClientDisconnect:
            raise
        except MartletError as exc:
            raise self.error(exc.http_status, exc.reason, missing) from None
        status = _status(answer)
        if status >= 400:
            if isinstance(answer, ObjectStream):
                answer.close()
            raise self.error(status, "", missing)
        return answer

    def error(self, status: int, reason: str, missing: str = "NoSuchKey") -> S3Error:
        return from_swift_status(status, reason, bucket=self.target.bucket, key=self.target.key, missing=missing)

    async def listing(self, path: SwiftPath, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """A container's or account's JSON listing, read as the caller.
        An account not yet created has no buckets."""
        try:
            _, body = await self.read_entity(path, "GET", query)
        except S3Error as exc:
            if path.container is None and exc.status == 404:
                return []
            raise
        data: list[dict[str, Any]] = json.loads(body) if body else []
        return data

    async def xml_body(self, limit: int) -> bytes:
        """The request's whole body (an XML document); MalformedXML past
        ``limit`` bytes. Read to its end: ``content.read(n)`` answers only
        what has arrived so far, a document cut short."""
        body = await read_limited(self.ctx.request, self.ctx.state.settings.client_timeout, limit)
        if body is None:
            raise S3Error("MalformedXML")
        return body

    async def versioning(self, bucket: str | None = None) -> Versioning:
        """A bucket's object versioning, from its (cached) container info;
        NoSuchBucket when there is no such bucket."""
        try:
            info = await container_info(self.ctx.state, self.container(bucket))
        except ClientDisconnect:
            raise
        except MartletError as exc:
            raise self.error(exc.http_status, exc.reason, "NoSuchBucket") from None
        return versioning_of(info.sysmeta)

    async def bucket_listing(self, query: Mapping[str, str], versions: bool = False) -> list[dict[str, Any]]:
        """The bucket's JSON listing as S3 shows it: in a bucket that is or
        was versioned, object versioning's rows (links shown as the
        versions they name; with ``versions`` every version, newest first,
        with ``version_id`` and ``is_latest``); in any other, the
        container's own rows (each object its one ``null`` version)."""
        versioning = await self.versioning()
        path = self.container()
        if not versioning.ever:
            return await self.listing(path, query)
        ctx = replace(self.ctx, path=path)
        limit = int(query["limit"]) if "limit" in query else None
        try:
            await authorize_container(replace(ctx, request=self.ctx.request.clone(method="GET")))
            rows, _ = await listing_rows(ctx, path, versioning, query, limit, versions)
        except ClientDisconnect:
            raise
        except MartletError as exc:
            raise self.error(exc.http_status, exc.reason, "NoSuchBucket") from None
        return rows

    async def container_headers(self, bucket: str | None = None) -> Mapping[str, str]:
        """A bucket's container HEAD, as the caller (NoSuchBucket if none)."""
        headers, _ = await self.read_entity(self.container(bucket), "HEAD", {})
        return headers

    async def read_entity(self, path: SwiftPath, method: str, query: Mapping[str, str]
                          ) -> tuple[Mapping[str, str], bytes]:
        """An account or container read (headers, body), authorized like a
        Swift one of the caller's, through the shared services: its
        controller streams such an answer itself, so no subrequest can."""
        ctx = replace(self.ctx, path=path)
        try:
            if path.container is None:
                await authorize(ctx, path, "GET")
            else:
                await authorize_container(replace(ctx, request=self.ctx.request.clone(method=method)))
            answer = await read_entity(self.ctx.state, path, method, {}, query)
            raise_for_missing(answer)
        except ClientDisconnect:
            raise
        except MartletError as exc:
            raise self.error(exc.http_status, exc.reason, "NoSuchBucket") from None
        assert answer.response is not None
        try:
            if answer.response.status >= 400:
                raise self.error(answer.response.status, "", "NoSuchBucket")
            body = b"" if method == "HEAD" else await answer.response.read()
            return dict(answer.response.headers), body
        finally:
            answer.response.release()


def _status(answer: Answer) -> int:
    if isinstance(answer, ObjectStream):
        return answer.response.status
    return answer.status


def empty(status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, headers=dict(headers or {}))


def xml_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/xml")
