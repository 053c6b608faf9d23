"""The expirer queue rows an object write sends (``expirer_task_updates``)."""

from __future__ import annotations

import pytest

from martlet.errors import BadRequest
from martlet.expiring import HIDDEN_ACCOUNT, task_container, task_content_type
from martlet.swift_path import SwiftPath
from martlet.timestamp import Timestamp
from storage.container_updates import expirer_task_updates, task_targets
from storage.paths import EntityPath

PATH = EntityPath("sda", 1, SwiftPath("AUTH_a", "c", "dir/o"))
NOW = Timestamp.parse(1_700_000_000)
AT = 1_700_000_100


def proxy_headers(delete_at: int) -> dict[str, str]:
    return {
        "X-Delete-At": str(delete_at),
        "X-Delete-At-Container": task_container(delete_at),
        "X-Delete-At-Host": "127.0.0.1:6201,127.0.0.1:6202",
        "X-Delete-At-Device": "d1,d2",
        "X-Delete-At-Partition": "9",
        "X-Delete-At-Account-Host": "127.0.0.1:6203",
        "X-Delete-At-Account-Device": "d3",
        "X-Delete-At-Account-Partition": "4",
    }


def test_nothing_without_a_delete_at() -> None:
    assert expirer_task_updates({}, PATH, NOW, None, None) == []
    assert expirer_task_updates(proxy_headers(AT), PATH, NOW, AT, AT) == []  # unchanged
    assert expirer_task_updates({}, PATH, NOW, AT, None) == []  # no task container named: the expirer's 412


def test_a_new_delete_at_puts_a_task_row_on_each_named_replica() -> None:
    records = expirer_task_updates(proxy_headers(AT), PATH, NOW, None, AT, policy=1)
    assert [(r.method, r.host, r.device, r.partition) for r in records] == [
        ("PUT", "127.0.0.1:6201", "d1", 9), ("PUT", "127.0.0.1:6202", "d2", 9)]
    record = records[0]
    assert (record.account, record.container, record.obj) == (
        HIDDEN_ACCOUNT, task_container(AT), f"{AT:010d}-AUTH_a/c/dir/o")
    assert record.headers["X-Content-Type"] == task_content_type(1)
    assert record.headers["X-Size"] == "0" and record.headers["X-Timestamp"] == NOW.internal
    assert record.headers["X-Account-Host"] == "127.0.0.1:6203"
    assert record.policy == 0  # the queue is policy 0's, whatever the object's


def test_moving_the_time_within_a_task_container_replaces_the_row() -> None:
    later = AT + 60
    assert task_container(later) == task_container(AT)
    records = expirer_task_updates(proxy_headers(later), PATH, NOW, AT, later)
    assert sorted((r.method, r.obj) for r in records if r.device == "d1") == [
        ("DELETE", f"{AT:010d}-AUTH_a/c/dir/o"), ("PUT", f"{later:010d}-AUTH_a/c/dir/o")]


def test_an_old_task_in_another_container_is_left_to_the_expirer() -> None:
    later = AT + 86400 * 3
    records = expirer_task_updates(proxy_headers(later), PATH, NOW, AT, later)
    assert {r.method for r in records} == {"PUT"}


def test_headers_that_do_not_pair_up_are_a_400() -> None:
    headers = {**proxy_headers(AT), "X-Delete-At-Device": "d1"}
    with pytest.raises(BadRequest):
        task_targets(headers)
    with pytest.raises(BadRequest):
        task_targets({**proxy_headers(AT), "X-Delete-At-Container": "tomorrow"})
