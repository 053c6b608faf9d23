"""Browser form uploads, a pipeline feature (``[formpost]``), with Swift's
rules.

A ``POST`` of ``multipart/form-data`` (with a boundary) to a container or
an object-name prefix ``/v1/<account>/<container>[/<prefix>]`` is a form:
plain fields (``redirect``, ``max_file_size``, ``max_file_count``,
``expires``, ``signature``; optionally ``x_delete_at`` / ``x_delete_after``,
``content-type``, ``content-encoding``) and then files. Each file becomes
an object named the form's path plus the file's name, PUT down the rest of
the pipeline as its data streams in - never held whole - with the
signature's rights: a caller allowed that one container
(``Identity.scope``), whatever token came along. Fields after a file
apply only to the files after them, as in Swift.

Before each file is stored the form is checked (``form.py``): a signature
by one of the account's or container's ``Temp-URL-Key[-2]`` with an
allowed digest (401 ``FormPost: Invalid Signature``), an ``expires`` not
past (401 ``FormPost: Form Expired``), integer settings (400). A file past
``max_file_count`` is refused (400, ``max file count exceeded``) and one
past ``max_file_size`` is cut (400 ``FormPost: max_file_size exceeded``):
neither is stored (files before them are, as each is its own upload). A
malformed form is a 400. The answer is the last upload's status (or, with
``redirect``, a 303 to it with ``status`` and ``message`` added).

Any other request costs one look at its method.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import unquote

from aiohttp import web

from martlet.errors import ClientDisconnect, MartletError, RequestTimeout
from martlet.swift_path import SwiftPath
from proxy.access import account_info
from proxy.auth import Identity
from proxy.container_info import container_info
from proxy.context import Context
from proxy.formpost.form import (
    MAX_VALUE_LENGTH,
    FormInvalid,
    FormUnauthorized,
    MultipartSplitter,
    PartData,
    PartEnd,
    PartStart,
    expiry_headers,
    field_value,
    form_integer,
    parse_disposition,
    redirect_location,
    signature_holds,
)
from proxy.object_stream import ObjectStream
from proxy.pipeline import Answer, Handler, subrequest
from proxy.tempurl import scoped_keys
from proxy.tempurl.signature import allowed_digests, split_signature

FORMPOST_USER = ".wsgi.formpost"


class FileTooLarge(FormInvalid):
    """A file passed ``max_file_size``: its upload is cut."""


def wrap(next_handler: Handler) -> Handler:
    """The pipeline entry point."""

    async def handle(ctx: Context) -> Answer:
        if ctx.method != "POST":
            return await next_handler(ctx)
        kind, attrs = parse_disposition(ctx.request.headers.get("Content-Type", ""))
        if kind != "multipart/form-data" or not attrs.get("boundary"):
            return await next_handler(ctx)
        try:
            return await _translate(ctx, next_handler, attrs["boundary"].encode("utf-8", "surrogateescape"))
        except FormUnauthorized as exc:
            return web.Response(status=401, text=f"FormPost: {str(exc).title()}")
        except FormInvalid as exc:
            return web.Response(status=400, text=f"FormPost: {exc}", content_type="text/plain")

    return handle


class _FormReader:
    """The form's events, pulled as they are needed: the body is read a
    chunk at a time, only when the events fed so far are used up."""

    def __init__(self, ctx: Context, boundary: bytes) -> None:
        self._chunks = ctx.body_chunks()
        self._splitter = MultipartSplitter(boundary)
        self._pending: list[PartStart | PartData | PartEnd] = []
        # Set when a file passed its limit: whatever the upload made of the
        # error raised in its body, the form answers 400 for it.
        self.too_large = False

    async def next(self) -> PartStart | PartData | PartEnd | None:
        while not self._pending:
            if self._splitter.done:
                return None
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._splitter.finish()
                return None
            self._pending = self._splitter.feed(chunk)
        return self._pending.pop(0)

    async def field(self) -> bytes:
        """The rest of a plain part, its first ``MAX_VALUE_LENGTH`` bytes kept."""
        data = b""
        while True:
            event = await self.next()
            if event is None or isinstance(event, PartEnd):
                return data[:MAX_VALUE_LENGTH]
            if isinstance(event, PartData) and len(data) < MAX_VALUE_LENGTH:
                data += event.data

    async def file(self, limit: int) -> AsyncIterator[bytes]:
        """The rest of a file part, as it arrives; FileTooLarge past ``limit``."""
        received = 0
        while True:
            event = await self.next()
            if event is None or isinstance(event, PartEnd):
                return
            if isinstance(event, PartData):
                received += len(event.data)
                if received > limit:
                    self.too_large = True
                    raise FileTooLarge("max_file_size exceeded")
                yield event.data


async def _translate(ctx: Context, next_handler: Handler, boundary: bytes) -> web.StreamResponse:
    keys = await _keys(ctx)
    reader = _FormReader(ctx, boundary)
    attributes: dict[str, str] = {}
    status, message, failure_body = 0, "", b""
    file_count = 0
    while (event := await reader.next()) is not None:
        if not isinstance(event, PartStart):
            continue
        disposition, attrs = parse_disposition(event.headers.get("content-disposition", ""))
        if disposition != "form-data" or not attrs.get("filename"):
            value = field_value(await reader.field())
            if "name" in attrs:
                attributes[attrs["name"].lower()] = value
            continue
        file_count += 1
        if file_count > form_integer(attributes, "max_file_count", "max_file_count not an integer"):
            status, message = 400, "max file count exceeded"
            break
        file_attributes = dict(attributes, filename=attrs["filename"])
        for name in ("content-type", "content-encoding"):
            if name not in attributes and name in event.headers:
                file_attributes[name] = event.headers[name] or ("application/octet-stream"
                                                                if name == "content-type" else "")
        status, failure_body = await _upload(ctx, next_handler, reader, file_attributes, keys)
        if not 200 <= status < 300:
            break
    if not status:
        status, message = 400, "no files to process"
    return _answer(status, message, failure_body, attributes.get("redirect"))


def _form_path(ctx: Context) -> str:
    """The path the form is signed for: decoded, from ``/v1/`` on."""
    return unquote(ctx.request.rel_url.raw_path, errors="surrogateescape")


async def _keys(ctx: Context) -> list[str]:
    """The account's and the container's temp URL keys (none for a path
    that names no container)."""
    if not ctx.path.container:
        return []
    return [key for key, _scope in await scoped_keys(ctx, ctx.path)]


def _check(ctx: Context, attributes: dict[str, str], keys: list[str]) -> int:
    """The form's settings and signature, checked before a file is
    stored; its ``max_file_size``."""
    if not keys:
        raise FormUnauthorized("invalid signature")
    max_file_size = form_integer(attributes, "max_file_size", "max_file_size not an integer")
    expiry_headers(attributes)
    if form_integer(attributes, "expires", "expired not an integer") < time.time():
        raise FormUnauthorized("form expired")
    try:
        digest, sig_hex = split_signature(attributes.get("signature", ""))
    except ValueError:
        raise FormUnauthorized("invalid signature") from None
    if digest not in allowed_digests(ctx.state.config.features.formpost.allowed_digests):
        raise FormUnauthorized("invalid signature")
    if not signature_holds(_form_path(ctx), attributes, keys, digest, sig_hex):
        raise FormUnauthorized("invalid signature")
    return max_file_size


async def _upload(ctx: Context, next_handler: Handler, reader: _FormReader, attributes: dict[str, str],
                  keys: list[str]) -> tuple[int, bytes]:
    """PUT one file down the pipeline; its status and, on failure, body."""
    max_file_size = _check(ctx, attributes, keys)
    path = ctx.path
    assert path.container is not None
    target = SwiftPath(path.account, path.container, (path.obj or "") + attributes["filename"])
    headers = {"Transfer-Encoding": "chunked"}
    for field_name, header in (("content-type", "Content-Type"), ("content-encoding", "Content-Encoding")):
        if field_name in attributes:
            headers[header] = attributes[field_name]
    headers.update(expiry_headers(attributes))
    sub = subrequest(ctx, "PUT", target, headers, reader.file(max_file_size))
    identity = Identity("", FORMPOST_USER, frozenset(), int(time.time()) + 1, scope=path.container_path())
    try:
        answer = await next_handler(replace(sub, identity=identity))
    except (ClientDisconnect, RequestTimeout, FormInvalid):
        if reader.too_large:
            raise FileTooLarge("max_file_size exceeded") from None
        raise
    except MartletError as exc:
        if reader.too_large:
            raise FileTooLarge("max_file_size exceeded") from None
        return exc.http_status, f"{exc.http_status} {exc.reason}".encode()
    if reader.too_large:
        raise FileTooLarge("max_file_size exceeded")
    if isinstance(answer, ObjectStream):
        answer.close()
        return answer.response.status, b""
    body = answer.body if isinstance(answer, web.Response) and isinstance(answer.body, bytes) else b""
    return answer.status, body


def _answer(status: int, message: str, failure_body: bytes, redirect: str | None) -> web.Response:
    if redirect:
        location = redirect_location(redirect, status, message)
        page = f'<html><body><p><a href="{location}">Click to continue...</a></p></body></html>'
        return web.Response(status=303, text=page, content_type="text/html", headers={"Location": location})
    text = f"{status} {web.Response(status=status).reason}"
    if message:
        text += f"\r\nFormPost: {message.title()}"
    body = failure_body if not 200 <= status < 300 and failure_body else text.encode()
    return web.Response(status=status, body=body, content_type="text/plain")
