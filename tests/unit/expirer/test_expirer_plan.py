"""The expirer's pure planning: names, due tasks, shares, outcomes, rate."""

from __future__ import annotations

from collections import Counter

import pytest

from expirer.plan import (
    container_finished,
    deletion_outcome,
    due_containers,
    due_tasks,
    mine,
    quorum,
    replica_of,
)
from martlet.expiring import Task, parse_task, policy_of, task_container, task_content_type, task_name
from martlet.ratelimit import RateLimiter


def test_names_sort_by_time_and_round_trip() -> None:
    assert task_container(1_700_012_345) == "1700006400"
    assert task_container(5, divisor=10) == "0000000000"
    name = task_name(1_700_012_345, "AUTH_a", "c", "dir/o-1")
    assert name == "1700012345-AUTH_a/c/dir/o-1"
    assert task_name(99, "a", "c", "o") < task_name(100, "a", "c", "o")  # zero-padded
    assert parse_task(name, task_content_type(2)) == Task(1_700_012_345, "AUTH_a", "c", "dir/o-1", 2)
    assert parse_task(name) == Task(1_700_012_345, "AUTH_a", "c", "dir/o-1", 0)


@pytest.mark.parametrize("bad", ["", "x-a/c/o", "123", "123-a/c", "123-a//o", "-a/c/o", "１２-a/c/o"])
def test_rows_that_are_not_tasks_are_skipped(bad: str) -> None:
    assert parse_task(bad) is None


def test_policy_travels_in_the_content_type() -> None:
    assert policy_of(task_content_type(3)) == 3
    assert policy_of("text/plain") == 0
    assert policy_of("text/plain;swift_expirer_policy=x") == 0


def test_due_containers_oldest_first() -> None:
    names = ["0000000300", "0000000100", "junk", "0000000200", "0000099999"]
    assert due_containers(names, now=250) == ["0000000100", "0000000200"]
    assert container_finished("0000000100", now=200, divisor=100)
    assert not container_finished("0000000100", now=199, divisor=100)


def test_due_tasks_stop_at_now_and_take_only_this_nodes_share() -> None:
    rows = [(task_name(t, "a", "c", f"o{t}"), "text/plain") for t in (10, 20, 30, 40)]
    every, past = due_tasks(rows, now=30, replicas=1, local=[0])
    assert [t.delete_at for t in every] == [10, 20, 30] and past
    every, past = due_tasks(rows[:2], now=30, replicas=1, local=[0])
    assert len(every) == 2 and not past


def test_shares_split_every_task_exactly_once() -> None:
    names = [task_name(1000 + i, "a", "c", f"o{i}") for i in range(3000)]
    owners = Counter(replica_of(n, 3) for n in names)
    assert set(owners) == {0, 1, 2} and all(count > 800 for count in owners.values())
    for name in names[:50]:
        assert sum(mine(name, 3, [i]) for i in range(3)) == 1
        assert mine(name, 3, [0, 1, 2])


def test_deletion_outcomes() -> None:
    assert deletion_outcome([204, 204, 204], 3) == "deleted"
    assert deletion_outcome([204, 404, None], 3) == "deleted"  # a quorum settled it
    assert deletion_outcome([412, 412, 412], 3) == "skipped"  # overwritten / delete-at moved
    assert deletion_outcome([404, 409, 412], 3) == "skipped"
    assert deletion_outcome([204, None, None], 3) == "failed"  # too few answers: try again
    assert deletion_outcome([400, 204, 401], 3) == "failed"
    assert quorum([201, None, 204], 3) and not quorum([201, 404, None], 3)
    assert quorum([201, 404, None], 3, ok=(404,))


def test_rate_limiter_spaces_starts() -> None:
    # The expirer paces its task starts with the auditor's limiter, one unit a task.
    now = [100.0]
    limiter = RateLimiter(4.0, clock=lambda: now[0])
    delays = [limiter.reserve(1) for _ in range(4)]
    assert delays == [0.0, 0.25, 0.5, 0.75]
    now[0] = 200.0
    assert limiter.reserve(1) == 0.0  # idle time is not banked
    unlimited = RateLimiter(0, clock=lambda: 1.0)
    assert [unlimited.reserve(1) for _ in range(3)] == [0.0, 0.0, 0.0]
