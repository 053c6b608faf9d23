"""Object operations: Put/Get/Head/Delete Object and CopyObject, as the
equivalent Swift requests of the caller's account.

User metadata ``x-amz-meta-<name>`` is Swift's ``X-Object-Meta-<name>``
both ways, so an object reads the same through either API; ETags are
answered quoted, as S3 gives them. A read is sent down the pipeline as
the client's own request (not a subrequest: a large object's body is
streamed by the large-object feature itself), and its answer's headers
are turned into S3's by a hook, whoever sends it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import replace
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import parse_qsl, quote, unquote

from aiohttp import web
from multidict import CIMultiDict

from martlet.config import is_true
from martlet.errors import ClientDisconnect, MartletError
from martlet.swift_path import SwiftPath
from proxy.object_stream import ObjectStream
from proxy.pipeline import Answer, ResponseHook, on_response, swift_raw_path
from proxy.replicas import read_entity
from proxy.state import ProxyState
from proxy.s3api import chunked, sigv4, trailer, versioning
from proxy.s3api.acl import acl_document
from proxy.s3api.call import S3Call, empty, xml_response
from proxy.object_versioning.names import DELETE_MARKER, SYSMETA_SYMLINK, version_object
from proxy.s3api.errors import S3Error
from proxy.symlink.links import link_of
from proxy.s3api.multipart_rules import S3_ETAG_SYSMETA
from proxy.s3api.payload import verified
from proxy.s3api.xml_doc import document

SWIFT_META = "x-object-meta-"
AMZ_META = "x-amz-meta-"
# Request headers an object PUT passes on as they are.
PUT_PASSED = ("content-type", "cache-control", "content-disposition", "content-language", "expires",
              "x-robots-tag", "if-none-match", "x-delete-at", "x-delete-after")
READ_PASSED = ("range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
# Swift's answer headers S3 has no word for.
HIDDEN = frozenset({"x-timestamp", "x-static-large-object", "x-object-manifest", "x-trans-id",
                    "x-openstack-request-id", "x-manifest-etag", "content-location", "x-symlink-target",
                    "x-symlink-target-account", "x-symlink-target-etag", "x-symlink-target-bytes"})


def md5_hex(content_md5: str) -> str:
    """``Content-MD5`` (base64 of 16 bytes) as the hex ETag Swift checks."""
    try:
        raw = base64.b64decode(content_md5, validate=True)
    except (binascii.Error, ValueError):
        raise S3Error("InvalidDigest") from None
    if len(raw) != 16:
        raise S3Error("InvalidDigest")
    return raw.hex()


def put_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The Swift PUT headers of an S3 PutObject's."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if low.startswith(AMZ_META):
            out["X-Object-Meta-" + name[len(AMZ_META):]] = value
        elif low in PUT_PASSED:
            out[name] = value
        elif low == "content-encoding":
            kept = [v.strip() for v in value.split(",") if v.strip() and v.strip() != "aws-chunked"]
            if kept:
                out[name] = ", ".join(kept)
    if "Content-MD5" in headers:
        out["ETag"] = md5_hex(headers["Content-MD5"])
    return out


def s3_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """A Swift object answer's headers as S3's: metadata renamed, the
    ETag quoted, Swift's own headers left out."""
    out: list[tuple[str, str]] = []
    for name, value in headers.items():
        low = name.lower()
        if low.startswith(SWIFT_META):
            out.append((AMZ_META + low[len(SWIFT_META):], value))
        elif low == "etag":
            out.append(("ETag", f'"{value.strip(chr(34))}"'))
        elif low == "x-object-version-id":
            out.append(("x-amz-version-id", value))
        elif low == "x-delete-at" and value.strip().isdigit():
            out.append(("x-amz-expiration", expiration(int(value))))
        elif low not in HIDDEN and not low.startswith("x-object-"):
            out.append((name, value))
    return out


def expiration(delete_at: int) -> str:
    """``X-Delete-At`` as S3's ``x-amz-expiration``, with the rule id Swift's
    s3api names (there is no lifecycle rule: the object expires as in Swift)."""
    return f'expiry-date="{formatdate(delete_at, usegmt=True)}", rule-id="swift-object-expiration"'


async def put_object(call: S3Call, signed: sigv4.SignedRequest) -> web.StreamResponse:
    if "x-amz-copy-source" in call.headers:
        return await copy_object(call)
    return empty(200, await put_body(call, call.object(), signed, put_headers(call.headers)))


async def put_body(call: S3Call, path: SwiftPath, signed: sigv4.SignedRequest, headers: dict[str, str],
                   missing: str = "NoSuchBucket") -> dict[str, str]:
    """PUT the request's body at ``path`` (its sha256 checked as it
    passes when signed); the answer's ``ETag`` (quoted) and
    ``Last-Modified``, which S3 clients read (Swift's s3api passes both)."""
    length = call.headers.get("Content-Length")
    body = call.ctx.body_chunks()
    checked: dict[str, str] = {}  # a trailing checksum, once it held
    if signed.payload_hash in (sigv4.STREAMING_PAYLOAD, trailer.UNSIGNED_TRAILER):
        decoded = call.headers.get("x-amz-decoded-content-length", "")
        if not decoded.isdigit():
            raise S3Error("MissingContentLength", "x-amz-decoded-content-length is required for aws-chunked bodies",
                          status=411)
        length = decoded
        if signed.payload_hash == trailer.UNSIGNED_TRAILER:
            body = trailer.decode(body, trailer.checksum_name(call.headers.get("x-amz-trailer")), int(decoded),
                                  checked)
        else:
            body = chunked.decode(body, signed.signing_key, signed.amz_date, signed.scope, signed.signature,
                                  int(decoded))
    elif length is None:
        raise S3Error("MissingContentLength")
    elif signed.payload_hash.startswith("STREAMING-"):
        raise S3Error("NotImplemented", f"x-amz-content-sha256: {signed.payload_hash} is not implemented")
    elif signed.payload_hash != sigv4.UNSIGNED_PAYLOAD:
        body = verified(body, signed.payload_hash)
    headers["Content-Length"] = length
    answer = await call.swift("PUT", path, headers, body, missing=missing)
    assert isinstance(answer, web.StreamResponse)
    etag = answer.headers.get("ETag", "").strip('"')
    return {"ETag": f'"{etag}"', "Last-Modified": answer.headers.get("Last-Modified") or formatdate(usegmt=True),
            **versioning.version_headers(answer.headers), **checked}


async def read_object(call: S3Call) -> Answer:
    """GetObject / HeadObject: the client's request, as a Swift one."""
    headers = CIMultiDict((k, v) for k, v in call.headers.items() if k.lower() in READ_PASSED)
    for name in ("response-content-type", "response-content-disposition", "response-cache-control",
                 "response-content-encoding", "response-content-language", "response-expires"):
        if name in call.query:
            _override(call, name[len("response-"):], call.query[name])
    path = call.object()
    stored, query = path, ""  # where its manifest is: a version's own name
    version = call.query.get("versionId")
    if version is not None:
        versioning.check_version_id(version)
        bucket_versioning = await call.versioning()
        if version != versioning.NULL:
            if not bucket_versioning.ever:
                raise versioning.no_such_version(call.key, version)
            stored = SwiftPath(call.account, bucket_versioning.container, version_object(call.key, version))
        query = f"?version-id={quote(version)}"
    s3_etag: str | None = None  # a multipart object's, once looked up
    if "If-Match" in headers or "If-None-Match" in headers:
        # A multipart object is judged by its S3 ETag (md5-N), which only the
        # manifest's system metadata has (as Swift's s3api: not its Swift ETag).
        s3_etag = await _multipart_etag(call.ctx.state, stored)
        status = multipart_conditions(headers, s3_etag)
        if status == 412:
            raise S3Error("PreconditionFailed")
        if status == 304:  # with the ETag that matched, as Swift's s3api
            return empty(304, {"ETag": f'"{s3_etag}"', "Content-Length": "0"})
    # Final, after what features further in add (object versioning's
    # version id, a link's Content-Location); before the clone, which then
    # shares the request's hooks.
    on_response(call.ctx, _to_s3(call.ctx.state, stored, s3_etag), final=True)
    request = call.ctx.request.clone(rel_url=swift_raw_path(path) + query, headers=headers)
    failed: Mapping[str, str] = {}
    try:
        answer = await call.inner(replace(call.ctx, request=request, path=path))
    except ClientDisconnect:
        raise
    except MartletError as exc:
        status, reason, failed = exc.http_status, exc.reason, exc.headers
    else:
        status = answer.response.status if isinstance(answer, ObjectStream) else answer.status
        if status < 400:
            return answer
        if isinstance(answer, ObjectStream):
            answer.close()
        reason = ""
    if status == 404:
        await call.container_headers()  # NoSuchBucket before NoSuchKey
        if version is not None and version != versioning.NULL:
            if failed.get("Content-Type") == DELETE_MARKER:  # S3: a delete marker has no body to read
                raise S3Error("MethodNotAllowed", extra={"Method": call.ctx.method, "ResourceType": "DeleteMarker"},
                              headers={versioning.DELETE_MARKER_HEADER: "true", versioning.VERSION_HEADER: version})
            raise versioning.no_such_version(call.key, version)
    raise call.error(status, reason)


def multipart_conditions(headers: CIMultiDict[str], s3_etag: str | None) -> int | None:
    """Judge ``If-Match``/``If-None-Match`` against a multipart object's S3
    ETag (the object servers know only its manifest's): the status that
    answers the request (412, 304), or None with the judged conditions
    removed from ``headers`` (the read goes on without them)."""
    if s3_etag is None:
        return None  # no multipart object: the object servers judge as usual

    def matches(value: str) -> bool:
        tags = [t.strip().strip('"') for t in value.split(",")]
        return "*" in tags or s3_etag in tags

    if "If-Match" in headers:
        if not matches(headers.pop("If-Match")):
            return 412
    if "If-None-Match" in headers:
        if matches(headers.pop("If-None-Match")):
            return 304
    return None


def _to_s3(state: ProxyState, path: SwiftPath, known_etag: str | None = None) -> ResponseHook:
    """The hook that makes a read's answer headers S3's. A multipart
    upload's object (an SLO) answers with the ETag S3 gave it at
    completion, which only its manifest's system metadata holds: looked
    up then, for those answers only (unless the conditions already read it:
    ``known_etag``)."""

    async def hook(response: web.StreamResponse) -> None:
        if response.status >= 400:
            return  # an S3 error document, already S3's
        multipart = is_true(response.headers.get("X-Static-Large-Object"))
        shown = s3_headers(response.headers)
        response.headers.clear()
        response.headers.extend(shown)
        if multipart:
            etag = known_etag if known_etag is not None else await _multipart_etag(state, path)
            if etag is not None:
                response.headers["ETag"] = f'"{etag}"'

    return hook


async def _multipart_etag(state: ProxyState, path: SwiftPath) -> str | None:
    """The S3 ETag a completed multipart upload recorded on its manifest."""
    return (await manifest_sysmeta(state, path)).get(S3_ETAG_SYSMETA)


async def manifest_sysmeta(state: ProxyState, path: SwiftPath) -> Mapping[str, str]:
    """The headers of an object's manifest itself (raw HEAD); empty when
    there is no such object."""
    answer = await read_entity(state, path, "HEAD", {}, {"multipart-manifest": "get"})
    if answer.response is None:
        return {}
    answer.response.release()
    if answer.response.status >= 300:
        return {}
    headers = answer.response.headers
    link = link_of(headers, path.account) if is_true(headers.get(SYSMETA_SYMLINK)) else None
    if link is not None and link.container and link.obj:
        # The current version of a versioned object: a link to the version.
        return await manifest_sysmeta(state, link.path)
    return headers


def _override(call: S3Call, header: str, value: str) -> None:
    async def hook(response: web.StreamResponse) -> None:
        if response.status < 300:
            response.headers[header] = value
    on_response(call.ctx, hook)


async def delete_object(call: S3Call) -> web.StreamResponse:
    version = call.query.get("versionId")
    if version is not None:
        return await versioning.delete_version(call, version)
    return await versioning.delete_current(call)


def copy_source(value: str) -> tuple[str, str, str | None]:
    """(bucket, key, version id or None) of ``x-amz-copy-source``
    (``[/]bucket/key[?versionId=<id>]``)."""
    raw, _, params = value.partition("?")
    parsed = parse_qsl(params, keep_blank_values=True)
    if params and (len(parsed) != 1 or parsed[0][0] != "versionId"):
        raise S3Error("InvalidArgument", "Unsupported copy source parameter.",
                      extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": value})
    version = versioning.check_version_id(parsed[0][1]) if parsed else None
    path = unquote(raw).lstrip("/")
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                      extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": value})
    return bucket, key, version


async def source_query(call: S3Call, bucket: str, key: str, version: str | None) -> str:
    """The query that names a copy's source version (object versioning's
    ``version-id``); NoSuchVersion for an id in a bucket never versioned."""
    if version is None:
        return ""
    if version != versioning.NULL and not (await call.versioning(bucket)).ever:
        raise versioning.no_such_version(key, version)
    return f"version-id={quote(version)}"


COPY_SOURCE_CONDITIONS = (("x-amz-copy-source-if-match", "If-Match"),
                          ("x-amz-copy-source-if-none-match", "If-None-Match"),
                          ("x-amz-copy-source-if-modified-since", "If-Modified-Since"),
                          ("x-amz-copy-source-if-unmodified-since", "If-Unmodified-Since"))


async def check_copy_source(call: S3Call, bucket: str, key: str, query: str = "") -> None:
    """Judge the ``x-amz-copy-source-if-*`` conditions with a HEAD of the
    source, as Swift's s3api does (a Swift PUT takes no ``If-Match`` and
    only ``If-None-Match: *``): 304 or 412 is ``PreconditionFailed``. A
    missing source is left for the copy itself to report."""
    conditions = {swift: call.headers[s3] for s3, swift in COPY_SOURCE_CONDITIONS if s3 in call.headers}
    if not conditions:
        return
    try:
        answer = await call.swift("HEAD", call.object(key, bucket), conditions, query=query)
    except S3Error as exc:
        if exc.code in ("NoSuchKey", "NoSuchBucket"):
            return
        raise
    status = answer.response.status if isinstance(answer, ObjectStream) else answer.status
    if isinstance(answer, ObjectStream):
        answer.close()
    if status == 304:
        raise S3Error("PreconditionFailed")


async def copy_object(call: S3Call) -> web.StreamResponse:
    """CopyObject as Swift's server-side copy (``X-Copy-From``); the
    metadata directive COPY keeps the source's, REPLACE takes the request's."""
    bucket, key, version = copy_source(call.headers["x-amz-copy-source"])
    query = await source_query(call, bucket, key, version)
    directive = call.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.",
                      extra={"ArgumentName": "x-amz-metadata-directive", "ArgumentValue": directive})
    if (bucket, key) == (call.bucket, call.key) and directive == "COPY" and version is None:
        raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object to "
                      "itself without changing the object's metadata, storage class, website redirect "
                      "location or encryption attributes.")
    headers = {"X-Copy-From": quote(f"/{bucket}/{key}"), "Content-Length": "0"}
    if directive == "REPLACE":
        headers.update(put_headers(call.headers))
        headers.pop("ETag", None)
        headers["X-Fresh-Metadata"] = "true"
    await check_copy_source(call, bucket, key, query)
    try:
        answer = await call.swift("PUT", call.object(), headers, query=query)
    except S3Error as exc:
        if exc.code == "NoSuchKey":
            await call.container_headers()  # NoSuchBucket for a missing destination
            if version is not None and version != versioning.NULL:
                raise versioning.no_such_version(key, version) from None
            raise S3Error("NoSuchKey", extra={"Key": key}) from None
        raise
    assert isinstance(answer, web.StreamResponse)
    etag = answer.headers.get("ETag", "").strip('"')
    modified = answer.headers.get("Last-Modified") or formatdate(usegmt=True)
    when = parsedate_to_datetime(modified).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    response = xml_response(document("CopyObjectResult", [("LastModified", when), ("ETag", f'"{etag}"')]))
    response.headers.update(versioning.version_headers(answer.headers))
    if version is not None:
        response.headers["x-amz-copy-source-version-id"] = version
    return response


async def object_acl(call: S3Call) -> web.StreamResponse:
    """An object's ACL: its owner's FULL_CONTROL (objects have no ACLs of
    their own here; their bucket's container ACLs apply). A PUT of the
    canned ``private`` ACL (or none) is accepted as what already holds."""
    answer = await call.swift("HEAD", call.object())
    if isinstance(answer, ObjectStream):
        answer.close()
    if call.ctx.method == "PUT":
        if call.headers.get("x-amz-acl", "private") != "private" or call.ctx.request.can_read_body:
            raise S3Error("NotImplemented")
        return empty(200)
    if call.ctx.method != "GET":
        raise S3Error("MethodNotAllowed", extra={"Method": call.ctx.method, "ResourceType": "ACL"})
    return xml_response(acl_document(call.owner, False))
