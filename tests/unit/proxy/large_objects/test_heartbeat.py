"""A heartbeating request: 202 and a space at once, a space per
``slo_yield_frequency`` while the work runs, then the summary; a client
that leaves cancels the work."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from proxy.large_objects.heartbeat import keep_alive
from proxy.large_objects.summary import Summary


def app_for(work_seconds: float, cancelled: list[bool]) -> web.Application:
    async def work() -> Summary:
        try:
            await asyncio.sleep(work_seconds)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return Summary({"Response Status": "201 Created"}, [("/c/o", "fine")])

    async def handler(request: web.Request) -> web.StreamResponse:
        ctx: Any = SimpleNamespace(request=request,
                                   state=SimpleNamespace(settings=SimpleNamespace(slo_yield_frequency=0.05)))
        return await keep_alive(ctx, work(), "upload")

    app = web.Application()
    app.router.add_put("/", handler)
    return app


async def test_beats_then_the_summary() -> None:
    async with TestClient(TestServer(app_for(0.3, []))) as client:
        answer = await client.put("/", headers={"Accept": "application/json"})
        assert answer.status == 202 and answer.headers["Content-Type"] == "application/json"
        assert answer.headers["Transfer-Encoding"] == "chunked"
        body = await answer.read()
    beats, _, summary = body.partition(b"\r\n\r\n")
    assert len(beats) >= 3 and not beats.strip()  # one at once, then one per 0.05 s
    assert json.loads(summary) == {"Response Status": "201 Created", "Errors": [["/c/o", "fine"]]}


async def test_a_client_that_leaves_cancels_the_work() -> None:
    cancelled: list[bool] = []
    async with TestClient(TestServer(app_for(30, cancelled))) as client:
        answer = await client.put("/")
        assert (await answer.content.read(1)) == b" "
        answer.close()
        for _ in range(100):
            if cancelled:
                break
            await asyncio.sleep(0.02)
    assert cancelled == [True]
