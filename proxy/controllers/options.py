"""``OPTIONS`` without ``Origin``: 200 and the methods the path allows.

Swift answers it for any path under a reseller prefix, with or without a
token and whether or not the path exists, so clients can probe what a
path supports. A CORS preflight (``OPTIONS`` with ``Origin``) is a
pipeline feature's business; it wraps the core and may call
``options_response`` for the plain answer.
"""

from __future__ import annotations

from aiohttp import web

from martlet.swift_path import SwiftPath
from proxy.access import authorize
from proxy.context import Context

# What the core controllers answer, by what the path names (Swift's lists;
# account PUT and DELETE are not allowed, allow_account_management being off).
ALLOWED_METHODS = {
    "account": ("GET", "HEAD", "OPTIONS", "POST"),
    "container": ("DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"),
    "object": ("DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"),
}


def allow_header(path: SwiftPath) -> str:
    """The ``Allow`` header of ``path``."""
    return ", ".join(ALLOWED_METHODS[path.kind])


def options_response(path: SwiftPath) -> web.Response:
    return web.Response(status=200, headers={"Allow": allow_header(path)})


async def handle_options(ctx: Context) -> web.Response:
    await authorize(ctx)  # anyone's, under the reseller prefixes
    return options_response(ctx.path)
