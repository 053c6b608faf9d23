"""Backend request signatures: the pure sign/check rules, and the two
middlewares (the session's signer, a server's checker) over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from martlet.backend import backend_path, backend_request, make_session
from martlet.backend_auth import (
    CLOCK_SKEW,
    SIGNATURE_HEADER,
    SIGNATURE_TTL,
    BackendAuthError,
    BackendKey,
    backend_key,
    checking_middleware,
)
from martlet.cluster import ClusterConfig
from martlet.errors import ConfigError
from martlet.hashing import HashSection
from martlet.http import STANDARD_MIDDLEWARES
from martlet.resolver import Resolver

KEY = BackendKey.from_secret("cluster secret")
NOW = 1_700_000_000.0
TARGET = "/d1/7/AUTH_a/c/o%20x?multipart-manifest=get"


def test_a_signature_checks_for_its_own_request() -> None:
    value = KEY.sign("PUT", TARGET, NOW)
    assert value.startswith(f"v1:{int(NOW) + SIGNATURE_TTL}:")
    KEY.check("PUT", TARGET, value, NOW)
    KEY.check("put", TARGET, value, NOW + SIGNATURE_TTL)  # method case is not significant


@pytest.mark.parametrize(
    "method, target",
    [
        ("DELETE", TARGET),  # another method
        ("PUT", "/d1/7/AUTH_a/c/o%20y?multipart-manifest=get"),  # another object
        ("PUT", "/d1/7/AUTH_a/c/o%20x"),  # query dropped
        ("PUT", "/d1/7/AUTH_a/c/o x?multipart-manifest=get"),  # same name, quoted otherwise
    ],
)
def test_a_signature_does_not_carry_over_to_another_request(method: str, target: str) -> None:
    value = KEY.sign("PUT", TARGET, NOW)
    with pytest.raises(BackendAuthError, match="invalid"):
        KEY.check(method, target, value, NOW)


def test_forged_signatures_are_refused() -> None:
    other = BackendKey.from_secret("another cluster")
    with pytest.raises(BackendAuthError, match="invalid"):
        KEY.check("GET", TARGET, other.sign("GET", TARGET, NOW), NOW)
    # Moving the expiry of a good signature breaks its MAC.
    version, expires, mac = KEY.sign("GET", TARGET, NOW).split(":")
    with pytest.raises(BackendAuthError, match="invalid"):
        KEY.check("GET", TARGET, f"{version}:{int(expires) + 3600}:{mac}", NOW)


@pytest.mark.parametrize(
    "value, reason",
    [
        (None, "not signed"),
        ("", "not signed"),
        ("v1", "malformed"),
        ("v2:1700000030:abc", "malformed"),
        ("v1:-5:abc", "malformed"),
        ("v1:1700000030:", "malformed"),
        ("v1:99999999999999999999:abc", "malformed"),
        ("v1:1700000030:" + "0" * 64, "invalid"),
    ],
)
def test_missing_or_malformed_signatures_are_refused(value: str | None, reason: str) -> None:
    with pytest.raises(BackendAuthError, match=reason) as caught:
        KEY.check("GET", TARGET, value, NOW)
    assert caught.value.http_status == 401


def test_a_replay_after_expiry_is_refused() -> None:
    value = KEY.sign("DELETE", TARGET, NOW)
    KEY.check("DELETE", TARGET, value, NOW + SIGNATURE_TTL + CLOCK_SKEW)  # last good moment
    with pytest.raises(BackendAuthError, match="expired"):
        KEY.check("DELETE", TARGET, value, NOW + SIGNATURE_TTL + CLOCK_SKEW + 1)


def test_clock_skew_is_tolerated_both_ways_but_bounded() -> None:
    # The signer's clock is CLOCK_SKEW ahead of the checker's: accepted.
    KEY.check("GET", TARGET, KEY.sign("GET", TARGET, NOW + CLOCK_SKEW), NOW)
    # Further ahead: a signature that would live longer than the TTL.
    with pytest.raises(BackendAuthError, match="future"):
        KEY.check("GET", TARGET, KEY.sign("GET", TARGET, NOW + CLOCK_SKEW + 2), NOW)


def test_the_backend_key_is_not_the_token_secret_and_never_printed() -> None:
    assert KEY.key != b"cluster secret"
    assert BackendKey.from_secret("a") != BackendKey.from_secret("b")
    assert repr(KEY) == "BackendKey()"


def cluster(secret: str, backend_secret: str = "") -> ClusterConfig:
    return ClusterConfig("<test>", HashSection(), Path("."), secret=secret, backend_secret=backend_secret)


def test_backend_key_comes_from_backend_secret_else_from_secret() -> None:
    assert backend_key(cluster("s")) == BackendKey.from_secret("s")
    assert backend_key(cluster("s", "b")) == BackendKey.from_secret("b")
    assert backend_key(cluster("", "b")) == BackendKey.from_secret("b")
    shown = repr(cluster("token-s3cret", "backend-s3cret"))
    assert "s3cret" not in shown
    with pytest.raises(ConfigError, match="secret"):
        backend_key(cluster(""))


async def echo(request: web.Request) -> web.Response:
    return web.Response(text=request.rel_url.raw_path_qs)


@pytest.fixture
async def server() -> AsyncIterator[int]:
    """A server checking signatures by KEY, with /healthcheck open."""
    app = web.Application(middlewares=[*STANDARD_MIDDLEWARES, checking_middleware(KEY, {"/healthcheck"})])
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    yield site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    await runner.cleanup()


@pytest.mark.parametrize(
    "names",
    [
        ("AUTH_a", "c", "o"),
        ("AUTH_ü", "c c", "dir/ü ?#%.txt"),
        ("AUTH_a", "c", "a%2Fb/../x;y=1&z"),
    ],
)
async def test_signed_sessions_pass_whatever_the_names(server: int, names: tuple[str, str, str]) -> None:
    path = backend_path("d1", 7, *names)
    async with make_session(KEY) as session:
        for method in ("GET", "HEAD", "PUT", "POST", "DELETE"):
            resp = await backend_request(session, "127.0.0.1", server, method, path,
                                         query={"prefix": "a b/ü", "format": "json"})
            async with resp:
                assert resp.status == 200, await resp.text()


async def test_unsigned_and_foreign_requests_are_401_before_any_handler(server: int) -> None:
    url = f"http://127.0.0.1:{server}/d1/7/AUTH_a/c/o"
    async with aiohttp.ClientSession() as plain:
        async with plain.put(url, data=b"x") as resp:
            assert resp.status == 401
            assert "not signed" in await resp.text()
        async with plain.get(url, headers={SIGNATURE_HEADER: KEY.sign("GET", "/d1/7/AUTH_a/c/other", NOW)}) as resp:
            assert resp.status == 401
    async with make_session(BackendKey.from_secret("another cluster")) as foreign:
        async with foreign.get(url) as resp:
            assert resp.status == 401
            assert "invalid" in await resp.text()


async def test_open_paths_need_no_signature_for_reads_only(server: int) -> None:
    async with aiohttp.ClientSession() as plain:
        async with plain.get(f"http://127.0.0.1:{server}/healthcheck") as resp:
            assert resp.status == 200
        async with plain.put(f"http://127.0.0.1:{server}/healthcheck") as resp:
            assert resp.status == 401
        async with plain.get(f"http://127.0.0.1:{server}/healthcheck/x") as resp:
            assert resp.status == 401


async def test_a_session_follows_a_node_whose_address_changed(server: int) -> None:
    """A node's container came back with a new address: the session finds
    it once the name's answer is stale (martlet.resolver), where aiohttp's
    cache, with no expiry, kept the old one for the process's life. The
    DNS is the test's (a name's new address cannot be made for real)."""
    answers = {"node-a": ("127.0.0.3",)}  # nothing listens there: refused
    clock = [1000.0]

    def dns(host: str) -> tuple[str, ...]:
        return answers[host]

    names = Resolver(ttl=10.0, lookup=dns, clock=lambda: clock[0])
    path = backend_path("d1", 7, "AUTH_a", "c", "o")
    async with make_session(KEY, names=names) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await backend_request(session, "node-a", server, "GET", path)
        answers["node-a"] = ("127.0.0.1",)
        clock[0] += 11
        for _ in range(100):  # the stale answer is served once more while it refreshes
            try:
                resp = await backend_request(session, "node-a", server, "GET", path)
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.01)
                continue
            async with resp:
                assert resp.status == 200
                assert resp.url.host == "node-a"
            break
        else:
            raise AssertionError("the session never reached the node's new address")
