"""The ``s3api`` pipeline feature: an S3 request in, Swift requests of
the signer's account down the rest of the pipeline, S3's answer out.

The edge (``proxy.app.swift_handler``) gives a request that looks like
S3's (``target.looks_like_s3``) the placeholder path ``S3_PATH`` instead
of splitting it as a Swift path; every other request passes this feature
after one identity test. Errors of every kind become S3's XML error
documents, with the transaction id as their RequestId.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from aiohttp import web

from martlet.errors import ClientDisconnect, MartletError
from martlet.logs import trans_id_var
from martlet.swift_path import SwiftPath
from proxy.context import Context
from proxy.pipeline import Answer, Handler, ResponseHook, on_response
from proxy.s3api import buckets, multipart, objects
from proxy.s3api.authn import authenticate
from proxy.s3api.call import S3Call
from proxy.s3api.errors import S3Error, error_document, from_swift_status
from proxy.s3api.request_rules import check_put_conditions
from proxy.s3api.sigv4 import SignedRequest
from proxy.s3api.target import S3Target, check_bucket_name, split_target

log = logging.getLogger(__name__)

# The path the edge gives an S3 request: its names are the bucket and
# key, which only this feature reads (compared by identity).
S3_PATH = SwiftPath("")


def wrap(next_handler: Handler) -> Handler:
    """The pipeline entry point."""

    async def handle(ctx: Context) -> Answer:
        if ctx.path is not S3_PATH:
            return await next_handler(ctx)
        return await _s3(ctx, next_handler)

    return handle


async def _s3(ctx: Context, inner: Handler) -> Answer:
    target = S3Target(None, None)
    try:
        section = ctx.state.config.features.s3api
        request = ctx.request
        on_response(ctx, _request_id_headers(ctx.method))
        target = split_target(request.rel_url.raw_path, request.host, section.storage_domain)
        if target.bucket is not None:
            check_bucket_name(target.bucket)
        config = ctx.state.config
        identity, signed = authenticate(request, config.users, config.s3_access_keys, section)
        account = ctx.state.config.resellers.storage_prefix + identity.account
        query = dict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
        call = S3Call(Context(ctx.state, request, SwiftPath(account), identity), inner, target, account, query)
        return await _dispatch(call, signed)
    except S3Error as exc:
        return error_response(exc, target, ctx.method)
    except ClientDisconnect:
        raise
    except MartletError as exc:
        return error_response(from_swift_status(exc.http_status, exc.reason, bucket=target.bucket, key=target.key),
                              target, ctx.method)


async def _dispatch(call: S3Call, signed: SignedRequest) -> Answer:
    method = call.ctx.method
    check_put_conditions(method, call.headers)
    if call.target.bucket is None:
        if method != "GET":
            raise S3Error("MethodNotAllowed", extra={"Method": method, "ResourceType": "SERVICE"})
        return await buckets.list_buckets(call)
    if call.target.key is None:
        return await buckets.bucket_operation(call)
    if "uploadId" in call.query or "uploads" in call.query:
        return await multipart.multipart_operation(call, signed)
    if "acl" in call.query:
        return await objects.object_acl(call)
    if "tagging" in call.query or "retention" in call.query or "legal-hold" in call.query:
        raise S3Error("NotImplemented")
    if method in ("GET", "HEAD"):
        return await objects.read_object(call)
    if method == "PUT":
        return await objects.put_object(call, signed)
    if method == "DELETE":
        return await objects.delete_object(call)
    raise S3Error("MethodNotAllowed", extra={"Method": method, "ResourceType": "OBJECT"})


def _request_id_headers(method: str) -> ResponseHook:
    """S3's request ids on every answer (the transaction id); a HEAD's
    error and a 304 say their empty body's length, as S3's do."""

    async def hook(response: web.StreamResponse) -> None:
        trans_id = response.headers.get("X-Trans-Id") or trans_id_var.get()
        response.headers["x-amz-request-id"] = trans_id
        response.headers["x-amz-id-2"] = trans_id
        if method == "HEAD" and response.status >= 400:
            response.headers["Content-Length"] = "0"
        if response.status == 304:
            # As Swift's s3api (swob) answers it, and its tests check; set
            # here, after aiohttp dropped it, which it does for every 304.
            # No body follows a 304 whatever its headers say.
            response.headers["Content-Length"] = "0"

    return hook


def error_response(error: S3Error, target: S3Target, method: str) -> web.Response:
    log.info("s3 error", extra={"code": error.code, "status": error.status})
    body = b"" if method == "HEAD" else error_document(error, target.resource, trans_id_var.get())
    return web.Response(status=error.status, body=body, content_type="application/xml", headers=error.headers)
