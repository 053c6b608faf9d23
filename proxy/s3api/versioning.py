"""S3 bucket versioning over object versioning (``proxy.object_versioning``),
as Swift's s3api maps it.

* PutBucketVersioning ``Enabled`` / ``Suspended`` is ``X-Versions-Enabled:
  true`` / ``false`` on the container (a POST); GetBucketVersioning reads
  the flag back from the container's system metadata (no ``Status`` for a
  bucket never versioned).
* ``versionId`` is object versioning's ``version-id`` on GET, HEAD,
  DELETE and a copy's source; ``null`` names the object written while
  versioning was off. Answers carry ``x-amz-version-id`` (object
  versioning's ``X-Object-Version-Id``); a DELETE that wrote a delete
  marker says so with ``x-amz-delete-marker: true``.
* Deleting the current version by id makes the newest older version
  current again (S3's rule; object versioning only removes the link), as
  Swift's s3api does with a ``PUT ?version-id``.
* ListObjectVersions is ``?versions`` (``listing.versions_document``).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from aiohttp import web

from martlet.body import no_body
from martlet.errors import BadRequest, ClientDisconnect, MartletError
from martlet.timestamp import Timestamp
from martlet.config import is_true
from proxy.object_versioning.names import DELETE_MARKER, NULL, SYSMETA_ENABLED
from proxy.pipeline import subrequest
from proxy.s3api.call import S3Call, empty, xml_response
from proxy.s3api.errors import S3Error
from proxy.s3api.listing import list_query, versions_document
from proxy.s3api.xml_doc import child_text, document, parse

# The most bytes of a VersioningConfiguration read (Swift's s3api's limit).
MAX_VERSIONING_BODY = 10240
VERSION_HEADER = "x-amz-version-id"
DELETE_MARKER_HEADER = "x-amz-delete-marker"


def check_version_id(value: str, name: str = "versionId") -> str:
    """A client's version id: ``null`` or one object versioning gave (a
    timestamp); InvalidArgument otherwise."""
    if value == NULL:
        return value
    try:
        Timestamp.parse(value)
    except BadRequest:
        raise S3Error("InvalidArgument", "Invalid version id specified",
                      extra={"ArgumentName": name, "ArgumentValue": value}) from None
    return value


def no_such_version(key: str, version: str) -> S3Error:
    return S3Error("NoSuchVersion", extra={"Key": key, "VersionId": version})


async def get_versioning(call: S3Call) -> web.StreamResponse:
    stored = await call.container_headers()
    lowered = {k.lower(): v for k, v in stored.items()}
    value = lowered.get(SYSMETA_ENABLED.lower())
    status = [] if value is None else [("Status", "Enabled" if is_true(value) else "Suspended")]
    return xml_response(document("VersioningConfiguration", status))


async def put_versioning(call: S3Call) -> web.StreamResponse:
    await call.container_headers()  # NoSuchBucket, AccessDenied first
    body = await call.xml_body(MAX_VERSIONING_BODY)
    # A body that is no VersioningConfiguration (an XXE attempt included)
    # is the client's mistake, whatever this cluster supports.
    status = child_text(parse(body, "VersioningConfiguration"), "Status")
    if status not in ("Enabled", "Suspended"):
        raise S3Error("MalformedXML")
    features = call.ctx.state.config.features
    if not (features.object_versioning.enabled and features.symlink.enabled):
        raise S3Error("NotImplemented", "Bucket versioning needs object versioning, which is off")
    enabled = "true" if status == "Enabled" else "false"
    await call.swift("POST", call.container(), {"X-Versions-Enabled": enabled}, missing="NoSuchBucket")
    return empty(200)


async def list_versions(call: S3Call) -> web.StreamResponse:
    """ListObjectVersions: ``key-marker`` / ``version-id-marker`` are the
    listing's ``marker`` / ``version_marker``."""
    query = call.query
    version_marker = query.get("version-id-marker")
    key_marker = query.get("key-marker")
    if version_marker is not None and version_marker != "":
        if key_marker is None:
            raise S3Error("InvalidArgument", "A version-id marker cannot be specified without a key marker.",
                          extra={"ArgumentName": "version-id-marker", "ArgumentValue": version_marker})
        check_version_id(version_marker, "version-id-marker")
    q = list_query({**query, "marker": key_marker or ""}, call.ctx.state.config.features.s3api.max_bucket_listing)
    swift = q.swift_query()
    if version_marker and key_marker:
        swift["version_marker"] = version_marker
    entries = await call.bucket_listing(swift, versions=True)
    return xml_response(versions_document(call.bucket, q, entries, call.owner, version_marker))


def version_headers(headers: Mapping[str, str], delete: bool = False) -> dict[str, str]:
    """S3's version headers of an answer with object versioning's: the
    version it made or read; for a DELETE that made one, a delete marker."""
    out: dict[str, str] = {}
    version = headers.get("X-Object-Version-Id")
    if version is not None:
        out[VERSION_HEADER] = version
        if delete:
            out[DELETE_MARKER_HEADER] = "true"
    return out


async def _delete(call: S3Call, query: str = "") -> tuple[int, Mapping[str, str]]:
    """A DELETE subrequest of the object: its status and headers (an
    error's too, which carry object versioning's version headers)."""
    sub = subrequest(call.ctx, "DELETE", call.object(), None, None, query)
    try:
        answer = await call.inner(sub)
    except ClientDisconnect:
        raise
    except MartletError as exc:
        return exc.http_status, exc.headers
    assert isinstance(answer, web.StreamResponse)
    return answer.status, answer.headers


async def delete_current(call: S3Call) -> web.StreamResponse:
    """DeleteObject without a version: in a bucket whose versioning is
    enabled a delete marker, reported even when there was no object."""
    status, headers = await _delete(call)
    if status == 404:
        await call.container_headers()  # NoSuchBucket; a missing key is no error in S3
    elif status >= 300:
        raise call.error(status, "")
    return empty(204, version_headers(headers, delete=True))


async def delete_version(call: S3Call, version: str) -> web.StreamResponse:
    """DeleteObject of one version; deleting the current one makes the
    newest remaining version current."""
    check_version_id(version)
    versioning = await call.versioning()
    shown = {VERSION_HEADER: version}
    if version != NULL and not versioning.ever:
        return empty(204, shown)  # as Swift's s3api: nothing to delete
    status, headers = await _delete(call, f"version-id={quote(version)}")
    if status == 404:
        return empty(204, shown)
    if status >= 300:
        raise call.error(status, "")
    if version != NULL and headers.get("X-Object-Current-Version-Id") == NULL:
        await _restore_newest(call)
    return empty(204, shown)


async def _restore_newest(call: S3Call) -> None:
    """The newest version of the key left in the versions container
    becomes current (a ``PUT ?version-id``), unless it is a delete marker
    or there is a current ``null`` object."""
    rows = await call.bucket_listing({"format": "json", "prefix": call.key, "limit": "10"}, versions=True)
    for row in rows:
        if row.get("name") != call.key or row.get("content_type") == DELETE_MARKER:
            return
        version = str(row.get("version_id") or NULL)
        if version == NULL:
            return
        try:
            await call.swift("PUT", call.object(), {"Content-Length": "0"}, no_body(),
                             query=f"version-id={quote(version)}")
            return
        except S3Error as exc:
            if exc.status not in (404, 412):
                raise  # a version listed but gone: try the next one
