"""Node names are looked up once, shared, and kept (martlet.resolver).

The real lookup (getaddrinfo) serves "localhost"; a DNS that hangs on a
stopped node's name or fails cannot be made for real here, so those tests
give the resolver a lookup that does, gated by events the test opens.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from martlet.resolver import Resolver, getaddrinfo_lookup, is_ip_literal


class GatedDns:
    """A lookup that answers only when the test opens the gate of a name,
    counting the lookups it was asked for."""

    def __init__(self, answers: dict[str, tuple[str, ...]]) -> None:
        self.answers = answers
        self.asked: Counter[str] = Counter()
        self.gates: dict[str, asyncio.Event] = {}
        self.fail: set[str] = set()

    def gate(self, host: str) -> asyncio.Event:
        return self.gates.setdefault(host, asyncio.Event())

    async def __call__(self, host: str, port: int) -> tuple[str, ...]:
        self.asked[host] += 1
        await self.gate(host).wait()
        if host in self.fail:
            raise OSError(f"Temporary failure in name resolution: {host}")
        return self.answers[host]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ip_literals_are_known_as_such() -> None:
    assert is_ip_literal("127.0.0.1") and is_ip_literal("::1") and is_ip_literal("fe80::1")
    assert not is_ip_literal("storage2") and not is_ip_literal("localhost") and not is_ip_literal("[::1]")


async def test_an_address_is_never_looked_up() -> None:
    dns = GatedDns({})
    resolver = Resolver(lookup=dns)
    assert await resolver.addresses("10.0.0.7", 6200) == ("10.0.0.7",)
    assert await resolver.addresses("::1", 6200) == ("::1",)
    assert dns.asked == Counter()


async def test_the_real_lookup_finds_localhost() -> None:
    addresses = await Resolver().addresses("localhost", 6200)
    assert addresses and all(is_ip_literal(a) for a in addresses)
    assert set(addresses) <= {"127.0.0.1", "::1"}
    with pytest.raises(OSError):
        await getaddrinfo_lookup("no-such-node.invalid", 6200)


async def test_callers_share_one_lookup_and_the_answer_is_kept() -> None:
    dns = GatedDns({"storage3": ("172.18.0.4",)})
    resolver = Resolver(lookup=dns)
    waiting = [asyncio.create_task(resolver.addresses("storage3", 6200)) for _ in range(8)]
    await asyncio.sleep(0)
    dns.gate("storage3").set()
    assert await asyncio.gather(*waiting) == [("172.18.0.4",)] * 8
    assert await resolver.addresses("storage3", 6200) == ("172.18.0.4",)
    assert dns.asked["storage3"] == 1


async def test_a_name_that_hangs_does_not_hold_up_a_known_one() -> None:
    """The compose failure: storage2 stopped, its lookups hang; storage3's
    address was known, so asking for it must not wait on any lookup."""
    dns = GatedDns({"storage2": ("172.18.0.3",), "storage3": ("172.18.0.4",)})
    resolver = Resolver(lookup=dns)
    dns.gate("storage3").set()
    await resolver.addresses("storage3", 6200)
    hanging = [asyncio.create_task(resolver.addresses("storage2", 6200)) for _ in range(20)]
    await asyncio.sleep(0)
    assert await asyncio.wait_for(resolver.addresses("storage3", 6200), 0.5) == ("172.18.0.4",)
    assert dns.asked["storage2"] == 1  # twenty callers, one lookup tying up one thread
    dns.fail.add("storage2")
    dns.gate("storage2").set()
    for task in hanging:
        with pytest.raises(OSError):
            await task


async def test_a_caller_giving_up_leaves_the_lookup_for_the_others() -> None:
    dns = GatedDns({"storage4": ("172.18.0.5",)})
    resolver = Resolver(lookup=dns)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(resolver.addresses("storage4", 6200), 0.01)
    patient = asyncio.create_task(resolver.addresses("storage4", 6200))
    await asyncio.sleep(0)
    dns.gate("storage4").set()
    assert await patient == ("172.18.0.5",)
    assert dns.asked["storage4"] == 1


async def resolved_once(host: str, address: str) -> tuple[Clock, GatedDns, Resolver]:
    """A resolver (ttl 10 s, on a clock the test moves) that has looked
    ``host`` up once and found ``address``."""
    clock = Clock()
    dns = GatedDns({host: (address,)})
    resolver = Resolver(ttl=10.0, lookup=dns, clock=clock)
    dns.gate(host).set()
    assert await resolver.addresses(host, 6200) == (address,)
    return clock, dns, resolver


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait (at most 100 short sleeps) until ``condition()`` holds."""
    for _ in range(100):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition was never reached")


async def test_a_stale_answer_is_given_at_once_and_refreshed_behind() -> None:
    clock, dns, resolver = await resolved_once("storage1", "172.18.0.2")
    clock.now += 5
    await resolver.addresses("storage1", 6200)
    assert dns.asked["storage1"] == 1  # still fresh
    # Stale, and the DNS now slow and then naming a new address: the ask
    # is answered at once with the old one, and the next with the new.
    clock.now += 6
    dns.gate("storage1").clear()
    dns.answers["storage1"] = ("172.18.0.9",)
    assert await asyncio.wait_for(resolver.addresses("storage1", 6200), 0.5) == ("172.18.0.2",)
    assert dns.asked["storage1"] == 2
    dns.gate("storage1").set()

    async def refreshed() -> bool:
        return await resolver.addresses("storage1", 6200) == ("172.18.0.9",)

    await until(refreshed)


async def test_a_failed_refresh_keeps_the_addresses(caplog: pytest.LogCaptureFixture) -> None:
    clock, dns, resolver = await resolved_once("storage2", "172.18.0.3")
    clock.now += 11
    dns.fail.add("storage2")

    async def logged() -> bool:
        return "not resolved again" in caplog.text

    with caplog.at_level("INFO", logger="martlet.resolver"):
        assert await resolver.addresses("storage2", 6200) == ("172.18.0.3",)
        await until(logged)
    assert await resolver.addresses("storage2", 6200) == ("172.18.0.3",)


async def test_a_name_never_resolved_fails_each_caller_and_is_asked_again_later() -> None:
    dns = GatedDns({})
    dns.fail.add("storage9")
    dns.gate("storage9").set()
    resolver = Resolver(lookup=dns)
    for _ in range(2):
        with pytest.raises(OSError):
            await resolver.addresses("storage9", 6200)
    assert dns.asked["storage9"] == 2  # a failure is not kept: the next connect asks again
