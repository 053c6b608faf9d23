"""Node names are looked up once, shared, and kept (martlet.resolver).

The real lookup (getaddrinfo) serves "localhost"; a DNS that hangs on a
stopped node's name or fails cannot be made for real here, so those tests
give the resolver a lookup that does, gated by events the test opens (on
the resolver's lookup threads; a gate never opened gives up after 5 s).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter

import pytest

from martlet.backend import KeptNames
from martlet.netaddr import is_ip_literal
from martlet.resolver import LOOKUP_THREADS, NAMES, Resolver, getaddrinfo_lookup
from tests.waiting import until


class GatedDns:
    """A blocking lookup that answers only when the test opens the gate of
    a name, counting the lookups it was asked for."""

    def __init__(self, answers: dict[str, tuple[str, ...]]) -> None:
        self.answers = answers
        self.asked: Counter[str] = Counter()
        self.gates: dict[str, threading.Event] = {}
        self.fail: set[str] = set()
        self._lock = threading.Lock()

    def gate(self, host: str) -> threading.Event:
        with self._lock:
            return self.gates.setdefault(host, threading.Event())

    def __call__(self, host: str) -> tuple[str, ...]:
        with self._lock:
            self.asked[host] += 1
        if not self.gate(host).wait(5):
            raise OSError(f"the test never opened {host}'s gate")
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
    assert await resolver.addresses("10.0.0.7") == ("10.0.0.7",)
    assert await resolver.addresses("::1") == ("::1",)
    assert dns.asked == Counter()


async def test_the_real_lookup_finds_localhost() -> None:
    addresses = await Resolver().addresses("localhost")
    assert addresses and all(is_ip_literal(a) for a in addresses)
    assert set(addresses) <= {"127.0.0.1", "::1"}
    with pytest.raises(OSError):
        getaddrinfo_lookup("no-such-node.invalid")


async def test_callers_share_one_lookup_and_the_answer_is_kept() -> None:
    dns = GatedDns({"storage3": ("172.18.0.4",)})
    resolver = Resolver(lookup=dns)
    waiting = [asyncio.create_task(resolver.addresses("storage3")) for _ in range(8)]
    await asyncio.sleep(0)
    dns.gate("storage3").set()
    assert await asyncio.gather(*waiting) == [("172.18.0.4",)] * 8
    assert await resolver.addresses("storage3") == ("172.18.0.4",)
    assert dns.asked["storage3"] == 1


async def test_a_name_that_hangs_does_not_hold_up_a_known_one() -> None:
    """The compose failure: storage2 stopped, its lookups hang; storage3's
    address was known, so asking for it must not wait on any lookup."""
    dns = GatedDns({"storage2": ("172.18.0.3",), "storage3": ("172.18.0.4",)})
    resolver = Resolver(lookup=dns)
    dns.gate("storage3").set()
    await resolver.addresses("storage3")
    hanging = [asyncio.create_task(resolver.addresses("storage2")) for _ in range(20)]
    await until(lambda: dns.asked["storage2"] > 0)
    assert await asyncio.wait_for(resolver.addresses("storage3"), 0.5) == ("172.18.0.4",)
    assert dns.asked["storage2"] == 1  # twenty callers, one lookup tying up one thread
    dns.fail.add("storage2")
    dns.gate("storage2").set()
    for task in hanging:
        with pytest.raises(OSError):
            await task


async def test_a_caller_giving_up_leaves_the_lookup_for_the_others() -> None:
    """Even a lookup still queued (every lookup thread busy with names that
    hang) is not cancelled by the caller that gave up on it."""
    busy = {f"gone{i}": ("172.18.1.1",) for i in range(LOOKUP_THREADS)}
    dns = GatedDns({"storage4": ("172.18.0.5",), **busy})
    resolver = Resolver(lookup=dns)
    hanging = [asyncio.create_task(resolver.addresses(name)) for name in busy]
    await until(lambda: sum(dns.asked.values()) == LOOKUP_THREADS)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(resolver.addresses("storage4"), 0.01)
    patient = asyncio.create_task(resolver.addresses("storage4"))
    await asyncio.sleep(0)
    for name in busy:
        dns.gate(name).set()
    dns.gate("storage4").set()
    assert await patient == ("172.18.0.5",)
    assert dns.asked["storage4"] == 1
    await asyncio.gather(*hanging)


async def resolved_once(host: str, address: str) -> tuple[Clock, GatedDns, Resolver]:
    """A resolver (ttl 10 s, on a clock the test moves) that has looked
    ``host`` up once and found ``address``."""
    clock = Clock()
    dns = GatedDns({host: (address,)})
    resolver = Resolver(ttl=10.0, lookup=dns, clock=clock)
    dns.gate(host).set()
    assert await resolver.addresses(host) == (address,)
    return clock, dns, resolver


async def test_a_stale_answer_is_given_at_once_and_refreshed_behind() -> None:
    clock, dns, resolver = await resolved_once("storage1", "172.18.0.2")
    clock.now += 5
    await resolver.addresses("storage1")
    assert dns.asked["storage1"] == 1  # still fresh
    # Stale, and the DNS now slow and then naming a new address: the ask
    # is answered at once with the old one, and the next with the new.
    clock.now += 6
    dns.gate("storage1").clear()
    dns.answers["storage1"] = ("172.18.0.9",)
    assert await asyncio.wait_for(resolver.addresses("storage1"), 0.5) == ("172.18.0.2",)
    await until(lambda: dns.asked["storage1"] > 1)
    assert dns.asked["storage1"] == 2
    dns.gate("storage1").set()

    async def refreshed() -> bool:
        return await resolver.addresses("storage1") == ("172.18.0.9",)

    await until(refreshed)


async def test_a_failed_refresh_keeps_the_addresses(caplog: pytest.LogCaptureFixture) -> None:
    clock, dns, resolver = await resolved_once("storage2", "172.18.0.3")
    clock.now += 11
    dns.fail.add("storage2")

    with caplog.at_level("INFO", logger="martlet.resolver"):
        assert await resolver.addresses("storage2") == ("172.18.0.3",)
        await until(lambda: "not resolved again" in caplog.text)
    assert await resolver.addresses("storage2") == ("172.18.0.3",)


async def test_a_name_never_resolved_fails_each_caller_and_is_asked_again_later() -> None:
    dns = GatedDns({})
    dns.fail.add("storage9")
    dns.gate("storage9").set()
    resolver = Resolver(lookup=dns)
    for _ in range(2):
        with pytest.raises(OSError):
            await resolver.addresses("storage9")
    assert dns.asked["storage9"] == 2  # a failure is not kept: the next connect asks again


def test_every_loop_of_a_process_shares_one_lookup() -> None:
    """A node process runs its daemons' loops in threads of their own, and
    every client of every loop asks the process's resolver: a stopped
    node's name still ties up one lookup thread, not one per daemon."""
    dns = GatedDns({"storage2": ("172.18.0.3",)})
    resolver = Resolver(lookup=dns)
    found: list[tuple[str, ...]] = []
    asking = threading.Semaphore(0)

    async def ask() -> tuple[str, ...]:
        task = asyncio.create_task(resolver.addresses("storage2"))
        await asyncio.sleep(0)  # the ask has reached its wait for the lookup
        asking.release()
        return await task

    def daemon() -> None:
        found.append(asyncio.run(ask()))

    threads = [threading.Thread(target=daemon) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert asking.acquire(timeout=5)  # all four loops wait before the DNS answers
    dns.gate("storage2").set()
    for thread in threads:
        thread.join(5)
    assert found == [("172.18.0.3",)] * 4
    assert dns.asked["storage2"] == 1


def test_a_forked_worker_looks_names_up_with_threads_of_its_own() -> None:
    """``serve.run_app`` forks its workers; a child inherits the process's
    resolver with a pool whose threads stayed in the parent, and a lookup
    queued there would wait for ever."""
    asyncio.run(NAMES.addresses("localhost"))  # the parent's pool now has a thread
    pid = os.fork()
    if pid == 0:
        try:
            NAMES._known.pop("localhost", None)  # so the child's ask is a lookup, not a kept answer
            found = asyncio.run(asyncio.wait_for(NAMES.addresses("localhost"), 5))
            os._exit(0 if found else 1)
        except BaseException:
            os._exit(2)
    for _ in range(1000):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        threading.Event().wait(0.01)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError("the forked child never resolved a name")
    assert os.waitstatus_to_exitcode(status) == 0


async def test_a_nodes_ports_share_one_lookup() -> None:
    """Rings may give one node a port per kind (object, container, account):
    its addresses are the name's, found once for all of them."""
    dns = GatedDns({"storage1": ("172.18.0.2",)})
    dns.gate("storage1").set()
    names = KeptNames(Resolver(lookup=dns))
    for port in (6200, 6201, 6202):
        [result] = await names.resolve("storage1", port)
        assert (result["host"], result["port"]) == ("172.18.0.2", port)
    assert dns.asked["storage1"] == 1
