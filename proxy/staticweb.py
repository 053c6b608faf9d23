"""Static web sites from containers, a pipeline feature (Swift's
``staticweb``).

A container whose metadata says so serves as a web site to anonymous
readers (an ``.r:*`` container) and to authenticated requests that ask
with ``X-Web-Mode: true``:

* ``X-Container-Meta-Web-Index``: the object served for ``.../`` (the
  container, or a pseudo-directory under it);
* ``X-Container-Meta-Web-Listings: true``: an HTML listing of a
  pseudo-directory without an index (``-Web-Listings-CSS`` its style
  sheet, relative to the container);
* ``X-Container-Meta-Web-Error``: ``<status><name>`` is served for an
  error (``404error.html``);
* ``X-Container-Meta-Web-Directory-Type``: the content type of directory
  marker objects (``application/directory`` by default).

A directory asked for without its ``/`` is redirected (301) to it. Every
object is read down the rest of the pipeline with the client's own
rights, and a listing only where the client may list the container
(anonymous readers need ``.rlistings``). Other requests cost a header look-up.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from aiohttp import web

from martlet.config import is_true
from martlet.errors import MartletError, NotFound, ServiceUnavailable
from martlet.swift_path import SwiftPath
from proxy.access import authorize_container
from proxy.container_info import container_info
from proxy.context import Context
from proxy.object_stream import ObjectStream
from proxy.pipeline import Answer, Handler, subrequest
from proxy.replicas import read_entity

LISTING_LIMIT = 10000


@dataclass(frozen=True)
class WebConfig:
    """A container's static web settings (from its metadata)."""

    index: str = ""
    error: str = ""
    listings: bool = False
    listings_css: str = ""
    directory_type: str = "application/directory"

    @classmethod
    def of(cls, meta: Mapping[str, str]) -> WebConfig:
        return cls(meta.get("web-index", "").strip(), meta.get("web-error", "").strip(),
                   is_true(meta.get("web-listings")), meta.get("web-listings-css", "").strip(),
                   meta.get("web-directory-type", "").strip() or "application/directory")

    @property
    def is_site(self) -> bool:
        return bool(self.index or self.listings)


def is_web_request(headers: Mapping[str, str]) -> bool:
    """Anonymous (no token at all), or ``X-Web-Mode: true``."""
    if is_true(headers.get("X-Web-Mode")):
        return True
    return not (headers.get("X-Auth-Token") or headers.get("X-Storage-Token"))


def tempurl_suffix(query: Mapping[str, str]) -> tuple[str, str | None]:
    """Pure: for a listing reached through a prefix TempURL, the query its
    links carry so that they work too (HTML-escaped, as Swift writes
    them), and the prefix the signature covers; else ``("", None)``."""
    if "temp_url_sig" not in query or "temp_url_prefix" not in query:
        return "", None
    prefix = query["temp_url_prefix"]
    suffix = (f"?temp_url_prefix={prefix}&temp_url_expires={quote(query.get('temp_url_expires', ''))}"
              f"&temp_url_sig={query['temp_url_sig']}" + ("&inline" if "inline" in query else ""))
    return html.escape(suffix), prefix


def listing_html(title: str, prefix: str, rows: Sequence[Mapping[str, Any]], css: str | None,
                 link_query: str = "", top: str | None = None) -> str:
    """Pure: the HTML listing of the pseudo-directory ``prefix`` (``""`` the
    container itself) from a delimited JSON listing's ``rows``; ``css``
    relative to the container; ``link_query`` (escaped) follows each link,
    and no parent link leads above ``top``."""
    depth = prefix.count("/")
    if css:
        style = f'  <link rel="stylesheet" type="text/css" href="{html.escape(quote("../" * depth + css))}" />\n'
    else:
        style = ("  <style type=\"text/css\">h1 {font-size: 1em; font-weight: bold;} "
                 "td {padding: 0px 1em 0px 1em;} a {text-decoration: none;}</style>\n")
    out = ['<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
           '"http://www.w3.org/TR/html4/loose.dtd">\n<html>\n <head>\n',
           f"  <title>Listing of {html.escape(title)}</title>\n", style, " </head>\n <body>\n",
           f'  <h1 id="title">Listing of {html.escape(title)}</h1>\n  <table id="listing">\n',
           '   <tr id="heading"><th class="colname">Name</th><th class="colsize">Size</th>'
           '<th class="coldate">Date</th></tr>\n']
    if prefix and prefix != top:
        out.append('   <tr id="parent" class="item"><td class="colname"><a href="../">../</a></td>'
                   '<td class="colsize">&nbsp;</td><td class="coldate">&nbsp;</td></tr>\n')
    for row in rows:
        if "subdir" in row:
            name = str(row["subdir"])[len(prefix):]
            href = html.escape(quote(name)) + link_query
            out.append(f'   <tr class="item subdir"><td class="colname"><a href="./{href}">{html.escape(name)}</a>'
                       '</td><td class="colsize">&nbsp;</td><td class="coldate">&nbsp;</td></tr>\n')
            continue
        name = str(row.get("name", ""))[len(prefix):]
        if not name:
            continue
        kind = "type-" + str(row.get("content_type", "")).split(";")[0].replace("/", "-")
        href = html.escape(quote(name)) + link_query
        out.append(f'   <tr class="item {html.escape(kind)}"><td class="colname"><a href="./{href}">'
                   f'{html.escape(name)}</a></td><td class="colsize">{row.get("bytes", 0)}</td>'
                   f'<td class="coldate">{html.escape(str(row.get("last_modified", ""))[:19])}</td></tr>\n')
    out.append("  </table>\n </body>\n</html>\n")
    return "".join(out)


def wrap(next_handler: Handler) -> Handler:
    """The pipeline entry point."""

    async def handle(ctx: Context) -> Answer:
        if ctx.method not in ("GET", "HEAD") or ctx.path.kind not in ("container", "object"):
            return await next_handler(ctx)
        if not is_web_request(ctx.request.headers):
            return await next_handler(ctx)
        container = SwiftPath(ctx.path.account, ctx.path.container)
        try:
            config = WebConfig.of((await container_info(ctx.state, container)).meta)
        except MartletError:
            return await next_handler(ctx)
        if not config.is_site and not config.error:
            return await next_handler(ctx)
        if ctx.path.kind == "container":
            return await _container(ctx, next_handler, config)
        return await _object(ctx, next_handler, config)

    return handle


def _redirect_to_slash(ctx: Context) -> web.Response:
    url = ctx.request.url
    location = str(url.with_path(url.raw_path + "/", encoded=True).with_query(url.query_string or None))
    return web.Response(status=301, headers={"Location": location})


async def _container(ctx: Context, next_handler: Handler, config: WebConfig) -> Answer:
    if not config.is_site:
        return await next_handler(ctx)
    if not ctx.request.path.endswith("/"):
        return _redirect_to_slash(ctx)
    return await _directory(ctx, next_handler, config, "")


async def _object(ctx: Context, next_handler: Handler, config: WebConfig) -> Answer:
    obj = ctx.path.obj or ""
    try:
        answer = await next_handler(ctx)
    except NotFound:
        answer = None
    if isinstance(answer, ObjectStream):
        content_type = answer.response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != config.directory_type.lower() or not config.is_site:
            return answer
        answer.close()
    elif answer is not None:
        return answer
    if obj.endswith("/"):
        return await _directory(ctx, next_handler, config, obj)
    if answer is not None or await _is_directory(ctx, next_handler, config, obj):
        return _redirect_to_slash(ctx)
    return await _error(ctx, next_handler, config, 404)


async def _is_directory(ctx: Context, next_handler: Handler, config: WebConfig, obj: str) -> bool:
    """Is ``obj/`` a pseudo-directory (an index in it, or anything listed under it)?"""
    if not config.is_site:
        return False
    if config.index and await _read(ctx, next_handler, f"{obj}/{config.index}", "HEAD") is not None:
        return True
    return bool(await _listing(ctx, f"{obj}/", limit=1, check=False))


async def _directory(ctx: Context, next_handler: Handler, config: WebConfig, prefix: str) -> Answer:
    if config.index:
        index = await _read(ctx, next_handler, prefix + config.index, ctx.method)
        if index is not None:
            return index
    if not config.listings:
        return await _error(ctx, next_handler, config, 404)
    rows = await _listing(ctx, prefix)
    if prefix and not rows:
        return await _error(ctx, next_handler, config, 404)
    link_query, top = tempurl_suffix(ctx.request.query)
    body = listing_html(ctx.request.path, prefix, rows, config.listings_css or None, link_query, top)
    return web.Response(status=200, body=body.encode("utf-8") if ctx.method == "GET" else None,
                        headers={"Content-Type": "text/html; charset=UTF-8"})


async def _read(ctx: Context, next_handler: Handler, obj: str, method: str) -> ObjectStream | None:
    """The object ``obj`` of the container as the client may read it, or
    None when it is missing (other errors are the answer)."""
    path = SwiftPath(ctx.path.account, ctx.path.container, obj)
    try:
        answer = await next_handler(subrequest(ctx, method, path))
    except NotFound:
        return None
    if isinstance(answer, ObjectStream) and answer.response.status < 300:
        return answer
    if isinstance(answer, ObjectStream):
        answer.close()
    return None


async def _listing(ctx: Context, prefix: str, limit: int = LISTING_LIMIT, check: bool = True) -> list[Any]:
    """The delimited JSON listing under ``prefix``, where the client may
    list the container (its 401/403 otherwise)."""
    container = SwiftPath(ctx.path.account, ctx.path.container)
    if check:
        await authorize_container(replace(ctx, path=container))
    query = {"format": "json", "prefix": prefix, "delimiter": "/", "limit": str(limit)}
    answer = await read_entity(ctx.state, container, "GET", {}, query)
    response = answer.response
    if response is None:
        if 404 in answer.statuses:
            return []
        raise ServiceUnavailable("No replica answered")  # never an empty page for a backend failure
    try:
        if response.status >= 500:
            raise ServiceUnavailable("Container listing failed")
        if response.status != 200:
            return []
        rows = json.loads(await response.read())
    finally:
        response.release()
    return rows if isinstance(rows, list) else []


async def _error(ctx: Context, next_handler: Handler, config: WebConfig, status: int) -> Answer:
    """``<status><web-error>`` with ``status``, or the plain error."""
    if config.error:
        page = await _read(ctx, next_handler, f"{status}{config.error}", "GET")
        if page is not None:
            headers = {"Content-Type": page.response.headers.get("Content-Type", "text/html")}
            body = await page.response.read()
            page.close()
            return web.Response(status=status, body=body if ctx.method == "GET" else None, headers=headers)
    raise NotFound()
