"""Object versioning, a pipeline feature (``[object_versioning]``, Swift's
``object_versioning``; it needs ``[symlink]``).

A container's owner turns it on with ``X-Versions-Enabled: true``; every
write then keeps the object's earlier data as a version, in a hidden
container of the same account (``\\x00versions\\x00<container>``, a
reserved name no client can name: ``martlet.reserved``), and the primary
container holds a static link to the current version. ``?versions`` lists
them, ``?version-id=`` reads, deletes or restores one. The names and
rules are ``names`` and ``listing`` (pure); container requests are
``containers``'s, object requests ``objects``'s, an account's JSON
listing (versions' bytes, orphaned versions containers) ``accounts``'s.

It sits before server-side copy (a copy onto a versioned object is a new
version) and large objects (a manifest PUT is stored as a version like
any other write), and after legacy versioned writes, whose containers
cannot turn this on.

Cost: an object or container request asks for its container's info
(cached, which the request itself needs anyway); a container that was
never versioned costs nothing more, except a ``?version-id`` (400) or a
``?versions`` listing.
"""

from __future__ import annotations

from proxy.context import Context
from proxy.object_versioning import accounts, containers, objects
from proxy.pipeline import Answer, Handler

__all__ = ["wrap"]


def wrap(next_handler: Handler) -> Handler:
    async def handle(ctx: Context) -> Answer:
        kind = ctx.path.kind
        if kind == "container":
            return await containers.handle_container(ctx, next_handler)
        if kind == "account":
            return await accounts.handle_account(ctx, next_handler)
        if kind != "object":
            return await next_handler(ctx)
        if ctx.method == "COPY":  # the destination's versioning decides
            return await objects.handle_copy(ctx, next_handler)
        if ctx.method == "PUT" and "X-Copy-From" in ctx.request.headers and "version-id" in ctx.request.query:
            # A copy from one version of its source (as Swift's copy, which
            # reads the source with the request's version-id).
            return await objects.handle_copy(ctx, next_handler)
        versioning = await objects.versioning_at(ctx, ctx.path)
        if not versioning.ever and "version-id" not in ctx.request.query:
            return await next_handler(ctx)
        return await objects.handle_object(ctx, versioning, next_handler)

    return handle
