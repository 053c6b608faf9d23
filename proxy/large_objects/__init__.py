"""Large objects: dynamic (``X-Object-Manifest``) and static
(``?multipart-manifest=...``) manifests, read back as one object.

Pure logic lives in ``manifest`` (SLO forms, validation, ETags), ``dlo``
(the manifest header, listing rows) and ``spans`` (ranges across
segments); ``fetch``, ``reader`` and ``writer`` are the thin async shell.
The object controller calls the entry points below:

* ``serve_if_manifest`` after a GET/HEAD found the object,
* ``put_slo_manifest`` for ``PUT ?multipart-manifest=put``,
* ``delete_slo`` for ``DELETE ?multipart-manifest=delete``,
* ``check_manifest_headers`` before any PUT or POST,
* ``open_large_object`` and ``copy_slo_manifest`` for a server-side copy
  whose source is a manifest (``copy``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from aiohttp import web

from proxy.controllers.base import Context
from proxy.fanout import Names, ReadAnswer
from proxy.headers import backend_response_headers
from martlet.errors import MartletError
from proxy.large_objects.copy import CopySource, copy_slo_manifest, open_large_object
from proxy.large_objects.fetch import (
    CheckAccess, SegmentError, is_dlo, is_manifest, is_slo, read_body, read_object,
)
from proxy.large_objects.manifest import raw_json
from proxy.large_objects.reader import load_slo, manifest_body_limit, serve_large_object
from proxy.large_objects.writer import check_manifest_headers, delete_slo, put_slo_manifest

__all__ = ["CopySource", "check_manifest_headers", "copy_slo_manifest", "delete_slo", "is_dlo", "is_manifest",
           "is_slo", "open_large_object", "put_slo_manifest", "serve_if_manifest"]

# A manifest whose own answer was one of these may hide a large object
# behind a condition or Range meant for it (the backend judged the manifest).
_JUDGED = (304, 412, 416)


async def serve_if_manifest(ctx: Context, answer: ReadAnswer, names: Names, sent: Mapping[str, str],
                            check_read: CheckAccess) -> web.StreamResponse | None:
    """The answer for a large object, or None: the caller streams
    ``answer`` as a plain object (it is still open then)."""
    response = answer.response
    assert response is not None
    if ctx.request.query.get("multipart-manifest") == "get":
        if is_slo(response.headers) and response.status == 200 and ctx.method == "GET":
            return await _manifest_json(ctx, names, answer, ctx.request.query.get("format") == "raw")
        return None
    if is_manifest(response.headers):
        return await serve_large_object(ctx, names, response, check_read)
    if response.status in _JUDGED and sent:
        probe = await read_object(ctx, names, "HEAD")
        if probe.response is not None:
            probe.response.release()
            if probe.response.status == 200 and is_manifest(probe.response.headers):
                response.release()
                return await serve_large_object(ctx, names, probe.response, check_read)
    return None


async def _manifest_json(ctx: Context, names: Names, answer: ReadAnswer, raw: bool) -> web.Response:
    """``?multipart-manifest=get``: the stored form as stored, or with
    ``format=raw`` the form that can be PUT back."""
    response = answer.response
    assert response is not None
    headers = backend_response_headers(response.headers)
    if raw:
        body = raw_json(await load_slo(ctx, names, response))
    else:
        try:
            body = await read_body(response, manifest_body_limit(ctx))
        except SegmentError:
            raise MartletError("Unable to load SLO manifest") from None
        finally:
            response.release()
    for name in [k for k in headers if k.lower() in ("content-type", "etag")]:
        del headers[name]
    headers["ETag"] = hashlib.md5(body).hexdigest()
    return web.Response(status=200, body=body, headers=headers, content_type="application/json",
                        charset="utf-8")
