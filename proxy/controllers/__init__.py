"""The core controllers: accounts, containers and objects, and nothing else.

``handle`` is the core handler of the pipeline (``proxy.pipeline``); it
picks the controller by what the path names. Optional features wrap it and
are never imported here.
"""

from __future__ import annotations

from proxy.context import Context
from proxy.controllers.account import handle_account
from proxy.controllers.container import handle_container
from proxy.controllers.object import handle_object
from proxy.controllers.options import handle_options
from proxy.pipeline import Answer


async def handle(ctx: Context) -> Answer:
    if ctx.method == "OPTIONS":
        return await handle_options(ctx)
    kind = ctx.path.kind
    if kind == "object":
        return await handle_object(ctx)
    if kind == "container":
        return await handle_container(ctx)
    return await handle_account(ctx)
