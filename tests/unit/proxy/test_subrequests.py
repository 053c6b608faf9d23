"""proxy.pipeline's subrequests and answer hooks, on mocked aiohttp requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from martlet.errors import ClientDisconnect, NotFound
from martlet.swift_path import SwiftPath
from proxy.context import Context
from proxy.pipeline import Answer, on_response, run_response_hooks, status_of, subrequest


def context(headers: dict[str, str] | None = None) -> Context:
    request = make_mocked_request("POST", "/v1/AUTH_a?bulk-delete", headers=headers or {})
    return Context(state=None, request=request, path=SwiftPath("AUTH_a"), identity=None)  # type: ignore[arg-type]


def test_a_subrequest_keeps_who_is_asking_and_nothing_else() -> None:
    parent = context({"X-Auth-Token": "tok", "Referer": "http://r", "X-Object-Meta-A": "1"})
    sub = subrequest(parent, "DELETE", SwiftPath("AUTH_a", "c", "d/\u2603 ?"), {"Content-Length": "0", "X": "\udcff"})
    assert sub.method == "DELETE" and sub.path == SwiftPath("AUTH_a", "c", "d/\u2603 ?")
    assert sub.request.rel_url.raw_path == "/v1/AUTH_a/c/d/%E2%98%83%20%3F"
    assert not sub.request.query
    assert dict(sub.request.headers) == {"X-Auth-Token": "tok", "Referer": "http://r", "Content-Length": "0"}
    assert sub.identity is parent.identity and sub.body is None


def recorder() -> tuple[list[str], Callable[[str], Any]]:
    """A list, and a maker of answer hooks that append their name to it."""
    seen: list[str] = []

    def hook(name: str) -> Any:
        async def note(_response: web.StreamResponse) -> None:
            seen.append(name)
        return note

    return seen, hook


async def test_hooks_run_on_the_request_they_were_registered_for() -> None:
    parent = context()
    seen, hook = recorder()
    on_response(parent, hook("parent"))
    sub = subrequest(parent, "DELETE", SwiftPath("AUTH_a", "c"))
    on_response(sub, hook("sub"))
    await run_response_hooks(parent.request, web.Response())
    assert seen == ["parent"]
    with pytest.raises(RuntimeError):  # a subrequest's answer must never be sent
        await run_response_hooks(sub.request, web.Response())


async def test_last_and_final_hooks_run_after_the_others_and_clones_share_them() -> None:
    parent = context()
    seen, hook = recorder()
    on_response(parent, hook("final"), final=True)
    clone = Context(parent.state, parent.request.clone(), parent.path, None)
    on_response(clone, hook("last"), last=True)
    on_response(clone, hook("plain"))
    on_response(parent, hook("plain2"))
    await run_response_hooks(parent.request, web.Response())
    assert seen == ["plain", "plain2", "last", "final"]


async def test_status_of() -> None:
    async def answer(status: int) -> Any:
        async def handler(_ctx: Context) -> Answer:
            if status == 404:
                raise NotFound()
            if status == 499:
                raise ClientDisconnect()
            return web.Response(status=status)
        return handler

    sub = subrequest(context(), "DELETE", SwiftPath("AUTH_a", "c"))
    assert await status_of(await answer(204), sub) == 204
    assert await status_of(await answer(404), sub) == 404
    with pytest.raises(ClientDisconnect):
        await status_of(await answer(499), sub)


def test_backend_headers_and_bodies_are_added_not_replaced() -> None:
    ctx = context().with_backend_headers({"X-Account-Sysmeta-A": "1"}).with_backend_headers({"B": "2"})
    assert dict(ctx.backend_headers) == {"X-Account-Sysmeta-A": "1", "B": "2"}
    assert ctx.with_backend_headers({}) is ctx
