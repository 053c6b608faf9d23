"""Multipart uploads as Swift requests (``multipart_rules`` has the
layout): Create, UploadPart, UploadPartCopy, Complete (an SLO manifest
over the parts), Abort, ListParts, ListMultipartUploads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import quote

from aiohttp import web

from martlet.swift_path import SwiftPath
from proxy.large_objects.writer import ROW_ETAG_PARAMS
from proxy.object_stream import ObjectStream
from proxy.s3api import sigv4
from proxy.s3api.call import S3Call, empty, xml_response
from proxy.s3api.errors import S3Error
from proxy.s3api.listing import s3_time
from proxy.s3api.multipart_rules import (
    MAX_COMPLETE_BODY, S3_ETAG_SYSMETA, StoredPart, check_parts, check_upload_id, copy_range, marker_name,
    multipart_etag, new_upload_id, part_name, part_number, requested_parts, segments_container, slo_manifest,
    split_marker, stored_parts,
)
from proxy.s3api.objects import copy_source, manifest_sysmeta, put_body, put_headers, source_query
from proxy.s3api.request_rules import check_write_conditions
from proxy.s3api.versioning import version_headers
from proxy.s3api.xml_doc import Node, document


def _segments(call: S3Call, name: str | None = None) -> SwiftPath:
    return SwiftPath(call.account, segments_container(call.bucket), name)


async def multipart_operation(call: S3Call, signed: sigv4.SignedRequest) -> web.StreamResponse:
    method, query = call.ctx.method, call.query
    if "uploads" in query and method == "POST":
        return await create_upload(call)
    upload_id = query["uploadId"] if "uploadId" in query else None
    if upload_id is None:
        raise S3Error("MethodNotAllowed", extra={"Method": method, "ResourceType": "OBJECT"})
    check_upload_id(upload_id)
    if method == "PUT":
        return await upload_part(call, upload_id, signed)
    if method == "POST":
        return await complete_upload(call, upload_id)
    if method == "DELETE":
        return await abort_upload(call, upload_id)
    if method == "GET":
        return await list_parts(call, upload_id)
    raise S3Error("MethodNotAllowed", extra={"Method": method, "ResourceType": "UPLOAD"})


async def create_upload(call: S3Call) -> web.StreamResponse:
    await call.container_headers()  # NoSuchBucket
    await call.swift("PUT", _segments(call), missing="NoSuchBucket")  # 201, or 202 when it exists
    upload_id = new_upload_id()
    headers = put_headers(call.headers)
    headers.pop("ETag", None)
    headers["Content-Length"] = "0"
    await call.swift("PUT", _segments(call, marker_name(call.key, upload_id)), headers, _one(b""))
    return xml_response(document("InitiateMultipartUploadResult", [
        ("Bucket", call.bucket), ("Key", call.key), ("UploadId", upload_id)]))


async def _marker_headers(call: S3Call, upload_id: str) -> dict[str, str]:
    """The upload's marker's headers, or NoSuchUpload."""
    try:
        answer = await call.swift("HEAD", _segments(call, marker_name(call.key, upload_id)))
    except S3Error as exc:
        if exc.status == 404:
            await call.container_headers()  # NoSuchBucket comes first
            raise S3Error("NoSuchUpload", extra={"UploadId": upload_id}) from None
        raise
    assert isinstance(answer, ObjectStream)
    headers = dict(answer.response.headers)
    answer.close()
    return headers


async def upload_part(call: S3Call, upload_id: str, signed: sigv4.SignedRequest) -> web.StreamResponse:
    limit = call.ctx.state.config.features.s3api.max_upload_part_num
    number = part_number(call.query.get("partNumber"), limit)
    await _marker_headers(call, upload_id)
    path = _segments(call, part_name(call.key, upload_id, number))
    if "x-amz-copy-source" in call.headers:
        return await _upload_part_copy(call, path)
    headers = {"ETag": put_headers(call.headers)["ETag"]} if "Content-MD5" in call.headers else {}
    return empty(200, await put_body(call, path, signed, headers, missing="NoSuchUpload"))


async def _upload_part_copy(call: S3Call, path: SwiftPath) -> web.StreamResponse:
    bucket, key, version = copy_source(call.headers["x-amz-copy-source"])
    query = await source_query(call, bucket, key, version)
    headers = {"X-Copy-From": quote(f"/{bucket}/{key}"), "Content-Length": "0"}
    ranged = copy_range(call.headers.get("x-amz-copy-source-range"))
    if ranged is not None:
        headers["Range"] = ranged
    answer = await call.swift("PUT", path, headers, query=query)
    assert isinstance(answer, web.StreamResponse)
    etag = answer.headers.get("ETag", "").strip('"')
    response = xml_response(document("CopyPartResult", [("LastModified", _now_iso(answer)),
                                                        ("ETag", f'"{etag}"')]))
    if version is not None:
        response.headers["x-amz-copy-source-version-id"] = version
    return response


def _now_iso(answer: web.StreamResponse) -> str:
    modified = answer.headers.get("Last-Modified") or formatdate(usegmt=True)
    return parsedate_to_datetime(modified).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def _parts(call: S3Call, upload_id: str) -> list[StoredPart]:
    prefix = marker_name(call.key, upload_id) + "/"
    entries = await call.listing(_segments(call), {"format": "json", "prefix": prefix})
    return stored_parts(entries, call.key, upload_id)


# The upload a multipart object was completed from, so that a retried
# Complete of the same upload succeeds again (as Swift's s3api).
UPLOAD_ID_SYSMETA = "X-Object-Sysmeta-S3api-Upload-Id"
MARKER_CONTENT_HEADERS = frozenset({"content-type", "content-encoding", "content-language", "content-disposition",
                                    "expires", "cache-control"})


async def complete_upload(call: S3Call, upload_id: str) -> web.StreamResponse:
    request = call.ctx.request
    check_write_conditions(call.headers)  # If-None-Match: * alone is judged by the manifest PUT
    await call.container_headers()  # NoSuchBucket before the document's errors
    try:
        marker = await _marker_headers(call, upload_id)  # NoSuchUpload too, as Swift's s3api
    except S3Error as exc:
        if exc.code != "NoSuchUpload":
            raise
        # A retry of a Complete that succeeded: the object names the upload.
        done = await manifest_sysmeta(call.ctx.state, call.object())
        if done.get(UPLOAD_ID_SYSMETA) != upload_id or S3_ETAG_SYSMETA not in done:
            raise
        return _completed(call, done[S3_ETAG_SYSMETA])
    if (request.content_length or 0) > MAX_COMPLETE_BODY:
        raise S3Error("MalformedXML")
    requested = requested_parts(await call.xml_body(MAX_COMPLETE_BODY))
    section = call.ctx.state.config.features.s3api
    chosen = check_parts(requested, await _parts(call, upload_id), section.min_segment_size)
    etag = multipart_etag(chosen)
    # The upload's metadata and content headers, given at its start, as
    # Swift's s3api carries them from the marker to the manifest.
    headers = {k: v for k, v in marker.items()
               if k.lower().startswith("x-object-meta-") or k.lower() in MARKER_CONTENT_HEADERS}
    manifest = slo_manifest(call.bucket, call.key, upload_id, chosen)
    headers["Content-Length"] = str(len(manifest))
    if "If-None-Match" in call.headers:
        headers["If-None-Match"] = "*"
    try:
        answer = await call.swift("PUT", call.object(), headers, _one(manifest), query="multipart-manifest=put",
                         missing="NoSuchBucket", backend={S3_ETAG_SYSMETA: etag, ROW_ETAG_PARAMS: f"s3_etag={etag}",
                                                UPLOAD_ID_SYSMETA: upload_id})
    except S3Error as exc:
        if exc.status == 400:
            raise S3Error("InvalidPart") from None
        raise
    await call.swift("DELETE", _segments(call, marker_name(call.key, upload_id)))
    completed = _completed(call, etag)
    assert isinstance(answer, web.StreamResponse)
    completed.headers.update(version_headers(answer.headers))
    return completed


def _completed(call: S3Call, etag: str) -> web.StreamResponse:
    request = call.ctx.request
    return xml_response(document("CompleteMultipartUploadResult", [
        ("Location", f"{request.scheme}://{request.host}/{call.bucket}/{quote(call.key)}"),
        ("Bucket", call.bucket), ("Key", call.key),
        ("ETag", f'"{etag}"')]))


async def abort_upload(call: S3Call, upload_id: str) -> web.StreamResponse:
    await _marker_headers(call, upload_id)
    for part in await _parts(call, upload_id):
        try:
            await call.swift("DELETE", _segments(call, part_name(call.key, upload_id, part.number)))
        except S3Error as exc:
            if exc.status != 404:
                raise
    await call.swift("DELETE", _segments(call, marker_name(call.key, upload_id)))
    return empty(204)


async def list_parts(call: S3Call, upload_id: str) -> web.StreamResponse:
    await _marker_headers(call, upload_id)
    section = call.ctx.state.config.features.s3api
    text = call.query.get("max-parts", str(section.max_parts_listing))
    marker_text = call.query.get("part-number-marker", "0")
    if not text.isdigit() or not marker_text.isdigit():
        raise S3Error("InvalidArgument", "max-parts and part-number-marker must be integers")
    max_parts, after = min(int(text), section.max_parts_listing), int(marker_text)
    parts = [p for p in await _parts(call, upload_id) if p.number > after]
    shown, truncated = parts[:max_parts], len(parts) > max_parts
    owner: list[Node] = [("ID", call.owner), ("DisplayName", call.owner)]
    items: list[Node] = [("Part", [("PartNumber", p.number), ("LastModified", s3_time(p.last_modified)),
                                   ("ETag", f'"{p.etag}"'), ("Size", p.size)]) for p in shown]
    return xml_response(document("ListPartsResult", [
        ("Bucket", call.bucket), ("Key", call.key), ("UploadId", upload_id), ("Initiator", owner),
        ("Owner", owner), ("StorageClass", "STANDARD"), ("PartNumberMarker", after),
        ("NextPartNumberMarker", shown[-1].number if shown else after), ("MaxParts", max_parts),
        ("IsTruncated", truncated), *items]))


async def list_uploads(call: S3Call) -> web.StreamResponse:
    """ListMultipartUploads: the markers in the bucket's segments container."""
    await call.container_headers()
    prefix = call.query.get("prefix", "")
    section = call.ctx.state.config.features.s3api
    try:
        entries = await call.listing(_segments(call), {"format": "json", "prefix": prefix})
    except S3Error as exc:
        if exc.code != "NoSuchBucket":
            raise
        entries = []  # no upload was ever started
    key_marker, id_marker = call.query.get("key-marker", ""), call.query.get("upload-id-marker", "")
    uploads = []
    for entry in entries:
        found = split_marker(str(entry.get("name", "")))
        if found is None or not after_markers(found, key_marker, id_marker):
            continue
        uploads.append((found, str(entry["last_modified"])))
    text = call.query.get("max-uploads", "1000")
    limit = min(int(text), section.max_bucket_listing) if text.isdigit() else section.max_bucket_listing
    owner: list[Node] = [("ID", call.owner), ("DisplayName", call.owner)]
    items: list[Node] = [("Upload", [("Key", key), ("UploadId", upload_id), ("Initiator", owner), ("Owner", owner),
                                     ("StorageClass", "STANDARD"), ("Initiated", s3_time(when))])
                         for (key, upload_id), when in uploads[:limit]]
    # The next markers name the last upload shown only when more than one is
    # shown, as Swift's s3api gives them (its tests check both cases).
    last = uploads[:limit][-1][0] if len(uploads[:limit]) > 1 else ("", "")
    return xml_response(document("ListMultipartUploadsResult", [
        ("Bucket", call.bucket), ("KeyMarker", key_marker), ("UploadIdMarker", id_marker),
        ("NextKeyMarker", last[0]),
        ("NextUploadIdMarker", last[1]), ("Prefix", prefix), ("MaxUploads", limit),
        ("IsTruncated", len(uploads) > limit), *items]))


def after_markers(upload: tuple[str, str], key_marker: str, id_marker: str) -> bool:
    """Is an upload (key, id) listed after ``key-marker`` and
    ``upload-id-marker`` (S3: later keys; with an id marker, also later
    uploads of the marker's key)?"""
    key, upload_id = upload
    if not key_marker:
        return True
    return key > key_marker or (bool(id_marker) and key == key_marker and upload_id > id_marker)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
