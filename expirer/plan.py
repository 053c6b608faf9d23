"""Pure: the expirer's queue, its names, and which tasks a pass does.

The queue lives in a hidden account, ``.expiring_objects`` (Swift's name,
which no client can reach: it has no reseller prefix, and the proxy grants
nothing on such an account). Each object with an ``X-Delete-At`` has one
*task*: an object row named ``<delete_at>-<account>/<container>/<object>``
(``delete_at`` zero-padded to ten digits, so rows sort by time) in the
*task container* named by the delete-at rounded down to ``divisor`` seconds
(a day by default, also zero-padded). The row's content type carries the
object's storage policy (``;swift_expirer_policy=N``) since the expirer
talks to the object servers directly and must pick the ring.

A task container is due once its name (its earliest possible time) has
passed; its rows are due one by one, in name (= time) order, as their own
delete-at passes.

Dividing the work between the nodes that each run an expirer: every task is
done by exactly one of the primaries of its task container. Replica ``i`` of
the container's ``n`` primaries takes the tasks whose name hashes to ``i``
modulo ``n``; an expirer takes the shares of the replicas its node holds.
No setting per node is needed, and a node that is down delays only its own
share (as Swift's ``processes``/``process`` split does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from martlet.expiring import DEFAULT_DIVISOR, Task, parse_task
from martlet.quorum import quorum_size


def due_containers(names: Iterable[str], now: float) -> list[str]:
    """The task containers whose earliest task may be due, oldest first."""
    return sorted(n for n in names if n.isascii() and n.isdigit() and int(n) <= now)


def container_finished(name: str, now: float, divisor: int = DEFAULT_DIVISOR) -> bool:
    """Can no new task arrive in task container ``name``? (Its whole time
    span has passed, and a delete-at in the past is refused.) Only then is
    an empty one deleted."""
    return name.isdigit() and int(name) + divisor <= now


def replica_of(name: str, replicas: int) -> int:
    """Which replica of its task container's primaries does task ``name``."""
    digest = hashlib.md5(name.encode("utf-8", "surrogateescape"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big") % max(1, replicas)


def mine(name: str, replicas: int, local: Sequence[int]) -> bool:
    """Is task ``name`` this expirer's, holding replicas ``local`` of ``replicas``?"""
    return replica_of(name, replicas) in local


def due_tasks(rows: Iterable[tuple[str, str]], now: float, replicas: int, local: Sequence[int]) -> tuple[list[Task], bool]:
    """From a task container's ``(name, content_type)`` rows in name order:
    this expirer's tasks that are due, oldest first, and whether the rows
    ran past ``now`` (so later pages need not be read)."""
    tasks: list[Task] = []
    for name, content_type in rows:
        task = parse_task(name, content_type)
        if task is None:
            continue
        if task.delete_at > now:
            return tasks, True
        if mine(name, replicas, local):
            tasks.append(task)
    return tasks, False


# -- what the answers mean --------------------------------------------------


def deletion_outcome(statuses: Sequence[int | None], replicas: int) -> str:
    """What the object servers' answers to the expirer's DELETE mean:

    - ``"deleted"``: a quorum settled it and one replica held the object;
    - ``"skipped"``: a quorum settled it, none had it to delete (404: gone
      already; 412: its delete-at moved, an overwrite or a POST; 409: a
      newer write is there) - the task is done either way;
    - ``"failed"``: too few answers (``None`` is a node that could not be
      reached, or a 5xx/507): the task stays for the next pass.
    """
    settled = [s for s in statuses if s is not None and (200 <= s < 300 or s in (404, 409, 412))]
    if len(settled) < quorum_size(replicas):
        return "failed"
    return "deleted" if any(200 <= s < 300 for s in settled) else "skipped"


def quorum(statuses: Sequence[int | None], replicas: int, ok: Iterable[int] = ()) -> bool:
    """Did a quorum answer 2xx (or one of ``ok``)?"""
    good = set(ok)
    return sum(1 for s in statuses if s is not None and (200 <= s < 300 or s in good)) >= quorum_size(replicas)
