"""Small helpers shared by the object cluster tests."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from itertools import count
from typing import Any

import aiohttp
from multidict import CIMultiDict

from martlet.backend import backend_path
from martlet.http import on_wire
from martlet.timestamp import Timestamp

_clock = count(1)


def ts() -> str:
    """Strictly increasing timestamps near now (X-Delete-At tests need "now")."""
    base = Timestamp.now().ticks
    return Timestamp(base + next(_clock)).internal


def opath(obj: str = "o", container: str = "c", account: str = "AUTH_a", device: str = "sda", part: int = 3) -> str:
    return backend_path(device, part, account, container, obj)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


async def call(
    session: aiohttp.ClientSession,
    daemon: Any,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    data: Any = None,
) -> tuple[int, dict[str, str], bytes]:
    sent = dict(headers or {})
    method = on_wire(method, sent)  # as martlet.backend sends it
    async with session.request(method, daemon.url(path), headers=sent, data=data) as resp:
        return resp.status, CIMultiDict(resp.headers), await resp.read()  # type: ignore[return-value]


async def put_object(
    session: aiohttp.ClientSession, daemon: Any, path: str, body: bytes, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    sent = {"X-Timestamp": ts(), "Content-Type": "text/plain", **{k.replace("_", "-"): v for k, v in headers.items()}}
    return await call(session, daemon, "PUT", path, sent, body)
