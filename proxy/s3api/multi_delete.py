"""DeleteObjects (``POST /<bucket>?delete``): up to
``max_multi_delete_objects`` keys per request, each deleted as a Swift
DELETE of the caller's, reported as S3 reports them (a missing key is
deleted; ``Quiet`` leaves out the successes)."""

from __future__ import annotations

import functools
import hashlib

from aiohttp import web

from proxy.large_objects.writer import bounded_gather
from proxy.s3api.call import S3Call, xml_response
from proxy.s3api.errors import S3Error
from proxy.s3api.objects import md5_hex
from proxy.s3api.xml_doc import Node, child_text, children, document, parse

MAX_BODY = 1024 * 1024
CONCURRENCY = 4


def delete_request(body: bytes, limit: int) -> tuple[list[str], bool]:
    """(keys, quiet) of a Delete document; MalformedXML past ``limit`` keys."""
    root = parse(body, "Delete")
    keys = []
    for node in children(root, "Object"):
        key = child_text(node, "Key")
        if not key:
            raise S3Error("UserKeyMustBeSpecified", "The request was well-formed but did not include the key "
                          "of an object to delete.", status=400)
        keys.append(key)
    if not keys or len(keys) > limit:
        raise S3Error("MalformedXML")
    quiet = (child_text(root, "Quiet") or "").strip().lower() == "true"
    return keys, quiet


async def delete_objects(call: S3Call) -> web.StreamResponse:
    request = call.ctx.request
    if (request.content_length or 0) > MAX_BODY:
        raise S3Error("MalformedXML")
    await call.container_headers()  # NoSuchBucket comes first
    body = await call.xml_body(MAX_BODY)
    if "Content-MD5" in call.headers and md5_hex(call.headers["Content-MD5"]) != hashlib.md5(body).hexdigest():
        raise S3Error("BadDigest")
    keys, quiet = delete_request(body, call.ctx.state.config.features.s3api.max_multi_delete_objects)
    outcomes = await bounded_gather(CONCURRENCY, [functools.partial(_delete_one, call, key) for key in keys])
    nodes: list[Node] = []
    for key, error in zip(keys, outcomes):
        if error is None:
            if not quiet:
                nodes.append(("Deleted", [("Key", key)]))
        else:
            nodes.append(("Error", [("Key", key), ("Code", error.code), ("Message", error.message)]))
    return xml_response(document("DeleteResult", nodes))


async def _delete_one(call: S3Call, key: str) -> S3Error | None:
    try:
        await call.swift("DELETE", call.object(key))
    except S3Error as exc:
        return None if exc.code == "NoSuchKey" else exc
    return None
