"""Fuzzing the public API of a live cluster (issue 13, point 7).

A real cluster started as ``martlet dev`` starts one (``cluster_fixture``:
every proxy feature proxy.conf knows is on) gets hypothesis-drawn requests
for every verb on account, container and object paths, as raw bytes
(``tests.fuzz.strategies``): paths, headers, query strings and bodies that
break Swift's rules, and sometimes the protocol's. Each answer must be no
5xx, the daemons' logs must hold no traceback, and a control object in an
account no fuzzed request may write keeps being served, unchanged.

Bounded: each test draws at most its ``max_examples``, and the whole module
stops drawing new requests once ``FUZZ_BUDGET`` seconds have gone (a cap on
the work, never an assertion). Under CI (``CI`` set) hypothesis draws the
same requests every run (``tests/conftest.py``'s profile, derandomized,
no example database). ``FUZZ_EXAMPLES`` / ``FUZZ_BUDGET`` raise both for a
longer hunt: ``FUZZ_EXAMPLES=5000 FUZZ_BUDGET=3600 pytest -m fuzz``.
A request that once found a bug is kept as an ``@example``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.cluster.cluster_harness import RunningCluster, cluster_fixture
from tests.fuzz.raw_http import LogWatch, RawRequest, Reply, send
from tests.fuzz.strategies import swift_request

pytestmark = [pytest.mark.fuzz, pytest.mark.cluster]

cluster = cluster_fixture("fuzz")

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "350"))
BUDGET = float(os.environ.get("FUZZ_BUDGET", "75"))
# Who sends a fuzzed request: the account's owner, a user of the account
# without .admin (ACLs decide), another account's owner, the reseller
# admin, nobody, and a forged token. No fuzzed path names AUTH_test5, which
# holds the control object (put there by the reseller admin).
SENDERS = (("test:tester", "testing"), ("test:tester3", "testing3"), ("test2:tester2", "testing2"),
           ("admin:admin", "admin"), None, "AUTH_tkforged")
CONTROL = ("admin:admin", "admin")
CONTROL_ACCOUNT = "AUTH_test5"
CONTROL_BODY = b"the control object " * 50
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.large_base_example])


class Fuzzing:
    """The module's cluster as the tests see it: tokens, the log watch,
    the control object and the budget."""

    def __init__(self, cluster: RunningCluster) -> None:
        self.cluster = cluster
        self.port = cluster.spec.proxy_port
        self.tokens = [self._token(who) for who in SENDERS]
        self.logs = LogWatch(cluster.processes.log_dir)
        self.stop_at = time.monotonic() + BUDGET
        self.statuses: Counter[int | None] = Counter()

    def _token(self, who: tuple[str, str] | str | None) -> bytes | None:
        if who is None or isinstance(who, str):
            return who.encode() if who else None
        return self.cluster.auth(*who)[1].encode()

    def out_of_budget(self) -> bool:
        return time.monotonic() > self.stop_at

    def control_url(self) -> tuple[str, dict[str, str]]:
        _url, token = self.cluster.auth(*CONTROL)
        return f"{self.cluster.proxy}/v1/{CONTROL_ACCOUNT}/control/object", {"X-Auth-Token": token}

    def check_control(self) -> None:
        url, auth = self.control_url()
        answer = requests.get(url, headers=auth, timeout=30)
        assert (answer.status_code, answer.content) == (200, CONTROL_BODY), "the control object is not served"

    def send(self, request: RawRequest, sender: int) -> Reply | None:
        token = self.tokens[sender]
        if token is not None:
            request = RawRequest(request.method, request.target, ((b"X-Auth-Token", token), *request.headers),
                                 request.body, request.framing)
        reply = send(self.port, request)
        self.statuses[reply.status if reply else None] += 1
        return reply


def _seed(cluster: RunningCluster) -> None:
    """Things for the fuzzed requests to find (strategies.CONTAINERS and
    OBJECTS): plain objects, segments, an SLO and a DLO, a versioned and an
    ACL'd container; and the control object."""
    conn = cluster.connection()
    for name in ("fuzz", "fuzz-versions", "fuzz-segments"):
        conn.put_container(name)
    conn.put_container("fuzz-acl", headers={"X-Container-Read": ".r:*,.rlistings",
                                            "X-Container-Write": "test:tester3"})
    conn.post_container("fuzz", headers={"X-Versions-Location": "fuzz-versions"})
    for name, body in (("plain", b"0123456789" * 7), ("seg/1", b"a" * 10), ("seg/2", b"b" * 10),
                       ("nested/deep/name", b"x")):
        conn.put_object("fuzz", name, body)
    manifest = '[{"path": "/fuzz/seg/1"}, {"path": "/fuzz/seg/2"}]'
    conn.put_object("fuzz", "slo", manifest, query_string="multipart-manifest=put")
    conn.put_object("fuzz", "dlo", b"", headers={"X-Object-Manifest": "fuzz/seg/"})
    _url, token = cluster.auth(*CONTROL)
    for path, body in (("control", b""), ("control/object", CONTROL_BODY)):
        answer = requests.put(f"{cluster.proxy}/v1/{CONTROL_ACCOUNT}/{path}", data=body,
                              headers={"X-Auth-Token": token}, timeout=30)
        answer.raise_for_status()


@pytest.fixture(scope="module")
def fuzzing(cluster: RunningCluster) -> Iterator[Fuzzing]:
    _seed(cluster)
    state = Fuzzing(cluster)
    state.check_control()
    state.logs.skip_to_end()  # start-up's lines are no request's
    yield state
    # Whatever the requests did, the cluster still serves, and nothing a
    # background daemon did since (the updater, replicators) crashed either.
    state.check_control()
    assert state.logs.new_tracebacks() == []
    # Seen with -s: how deep the requests got (a run of 4xx alone reaches little).
    print(f"\nfuzzed requests by status: {sorted(state.statuses.items(), key=str)}")


def check(fuzzing: Fuzzing, request: RawRequest, sender: int) -> None:
    """One request: no 5xx (but Swift's 501 for codings it does not
    implement), no traceback in any log."""
    if fuzzing.out_of_budget():
        return
    reply = fuzzing.send(request, sender)
    allowed = {501} if request.framing == "raw" and request.header(b"Transfer-Encoding") is not None else set()
    if reply is not None:
        assert reply.status < 500 or reply.status in allowed, (reply.status, reply.body[:300], request)
    else:
        # Only a request the HTTP parser refuses outright may go unanswered.
        assert request.framing == "raw", f"no answer to {request}"
    assert fuzzing.logs.new_tracebacks() == [], request


# The owner most often: its requests get past authorization.
SENDER = st.one_of(st.just(0), st.integers(0, len(SENDERS) - 1))


@FUZZ_SETTINGS
@given(request=swift_request(depth=1), sender=SENDER)
def test_account_requests(fuzzing: Fuzzing, request: RawRequest, sender: int) -> None:
    check(fuzzing, request, sender)


@FUZZ_SETTINGS
@given(request=swift_request(depth=2), sender=SENDER)
# aiohttp took CONNECT's target for host:port and, not ASCII, never answered
@example(request=RawRequest(b"CONNECT", b"/v1/\xf2\x97\x91\xaf\xc2\x9e//?extract-archive=tar.gz&prefix=K",
                            ((b"X-History-Location", b"99999999999999999999"),), b"", "chunked"), sender=0)
def test_container_requests(fuzzing: Fuzzing, request: RawRequest, sender: int) -> None:
    check(fuzzing, request, sender)


@FUZZ_SETTINGS
@given(request=swift_request(depth=3), sender=SENDER)
def test_object_requests(fuzzing: Fuzzing, request: RawRequest, sender: int) -> None:
    check(fuzzing, request, sender)


def test_control_object_after_fuzzing(fuzzing: Fuzzing) -> None:
    """Checked here too (and by the fixture's end): named in the report."""
    fuzzing.check_control()
