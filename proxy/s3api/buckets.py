"""Bucket operations: ListBuckets, Create/Head/Delete Bucket, ListObjects
(v1, v2), GetBucketLocation, canned ACLs; versioning is ``versioning``'s."""

from __future__ import annotations

from aiohttp import web

from martlet.swift_path import SwiftPath
from proxy.s3api.acl import acl_document, canned_acl_headers
from proxy.s3api.call import S3Call, empty, xml_response
from proxy.s3api.errors import S3Error
from proxy.s3api.multi_delete import delete_objects
from proxy.s3api.multipart import list_uploads
from proxy.s3api import versioning
from proxy.s3api.listing import buckets_document, list_query, objects_document
from proxy.s3api.target import is_bucket_name
from proxy.s3api.xml_doc import text_document

# Bucket sub-resources not served yet: NotImplemented (after NoSuchBucket).
UNSUPPORTED = ("lifecycle", "policy", "cors", "website", "tagging", "logging", "notification", "replication",
               "encryption", "object-lock", "requestPayment", "accelerate", "analytics", "metrics", "inventory",
               "intelligent-tiering", "ownershipControls", "publicAccessBlock", "policyStatus")
MAX_CONFIGURATION = 64 * 1024  # a CreateBucketConfiguration document


async def list_buckets(call: S3Call) -> web.StreamResponse:
    entries = await call.listing(SwiftPath(call.account), {"format": "json"})
    # Containers no bucket can name (a multipart upload's <bucket>+segments...) are not buckets.
    return xml_response(buckets_document([e for e in entries if is_bucket_name(str(e["name"]))], call.owner))


async def bucket_operation(call: S3Call) -> web.StreamResponse:
    """A request on a bucket itself (no key), by method and sub-resource."""
    method, query = call.ctx.method, call.query
    if "location" in query and method == "GET":
        await call.container_headers()
        location = call.ctx.state.config.features.s3api.location
        text = "" if location == "us-east-1" else location
        return xml_response(text_document("LocationConstraint", text))
    if "versions" in query and method == "GET":
        return await versioning.list_versions(call)
    if "versioning" in query:
        if method == "GET":
            return await versioning.get_versioning(call)
        if method == "PUT":
            return await versioning.put_versioning(call)
        raise S3Error("MethodNotAllowed", extra={"Method": method, "ResourceType": "VERSIONING"})
    if "acl" in query:
        return await _acl(call)
    if "delete" in query and method == "POST":
        return await delete_objects(call)
    if "uploads" in query and method == "GET":
        return await list_uploads(call)
    if "object-lock" in query and method == "GET":
        await call.container_headers()
        raise S3Error("ObjectLockConfigurationNotFoundError",
                      "Object Lock configuration does not exist for this bucket", status=404,
                      extra={"BucketName": call.bucket})
    if any(name in query for name in UNSUPPORTED):
        await call.container_headers()  # NoSuchBucket first
        raise S3Error("NotImplemented")
    if method == "GET":
        return await list_objects(call)
    if method == "HEAD":
        await call.container_headers()
        return empty(200)
    if method == "PUT":
        return await create_bucket(call)
    if method == "DELETE":
        return await delete_bucket(call)
    raise S3Error("MethodNotAllowed", extra={"Method": method, "ResourceType": "BUCKET"})


async def create_bucket(call: S3Call) -> web.StreamResponse:
    # Read from request.content (xml_body), not request.read(): a request
    # whose body was read() can no longer be cloned into the subrequests
    # below. Past the limit MalformedXML, as Swift's s3api (not cut short).
    body = await call.xml_body(MAX_CONFIGURATION) if call.ctx.request.can_read_body else b""
    if body and b"LocationConstraint" in body:
        location = call.ctx.state.config.features.s3api.location
        if f">{location}<".encode() not in body:
            raise S3Error("InvalidLocationConstraint", "The specified location-constraint is not valid",
                          status=400)
    headers = canned_acl_headers(call.headers.get("x-amz-acl"))
    answer = await call.swift("PUT", call.container(), headers, missing="NoSuchBucket")
    assert isinstance(answer, web.StreamResponse)
    if answer.status == 202:
        raise S3Error("BucketAlreadyOwnedByYou", extra={"BucketName": call.bucket})
    return empty(200, {"Location": f"/{call.bucket}"})


async def delete_bucket(call: S3Call) -> web.StreamResponse:
    await call.swift("DELETE", call.container(), missing="NoSuchBucket")  # 409: BucketNotEmpty
    return empty(204)


async def list_objects(call: S3Call) -> web.StreamResponse:
    q = list_query(call.query, call.ctx.state.config.features.s3api.max_bucket_listing)
    entries = await call.bucket_listing(q.swift_query())
    return xml_response(objects_document(call.bucket, q, entries, call.owner))


async def _acl(call: S3Call) -> web.StreamResponse:
    """A bucket's ACL: a canned ACL set (``x-amz-acl``) as container ACLs;
    read back as the owner's FULL_CONTROL (and AllUsers READ when public)."""
    if call.ctx.method == "PUT":
        headers = canned_acl_headers(call.headers.get("x-amz-acl") or "private")
        await call.swift("POST", call.container(), headers, missing="NoSuchBucket")
        return empty(200)
    if call.ctx.method != "GET":
        raise S3Error("MethodNotAllowed", extra={"Method": call.ctx.method, "ResourceType": "ACL"})
    stored = await call.container_headers()
    public = ".r:*" in stored.get("X-Container-Read", "")
    return xml_response(acl_document(call.owner, public))
