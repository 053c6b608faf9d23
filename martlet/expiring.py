"""The object expirer's queue names, shared by the object server (which
records tasks), the proxy (which names the task container's replicas) and
the expirer (which does them). See ``expirer.plan`` for the whole story.

The queue lives in the hidden account ``.expiring_objects``: one task row
``<delete_at>-<account>/<container>/<object>`` per object with an
``X-Delete-At``, in the task container named by that time rounded down to
``divisor`` seconds; both zero-padded to ten digits so names sort by time.
The row's content type carries the object's storage policy.
"""

from __future__ import annotations

from dataclasses import dataclass

HIDDEN_ACCOUNT = ".expiring_objects"
# Accounts named so are the cluster's own (Swift's auto_create_account_prefix):
# no client reaches them (they have no reseller prefix), and their container
# and account databases are created by the first row sent to them.
AUTO_CREATE_PREFIX = "."
DEFAULT_DIVISOR = 86400
POLICY_PARAM = "swift_expirer_policy"
TASK_CONTENT_TYPE = "text/plain"


@dataclass(frozen=True, order=True)
class Task:
    """One queued deletion: ``account/container/obj`` at ``delete_at``."""

    delete_at: int
    account: str
    container: str
    obj: str
    policy: int = 0

    @property
    def name(self) -> str:
        return task_name(self.delete_at, self.account, self.container, self.obj)


def task_container(delete_at: int, divisor: int = DEFAULT_DIVISOR) -> str:
    """The task container of an object deleted at ``delete_at``."""
    return f"{delete_at // divisor * divisor:010d}"


def task_name(delete_at: int, account: str, container: str, obj: str) -> str:
    return f"{delete_at:010d}-{account}/{container}/{obj}"


def task_content_type(policy: int) -> str:
    return f"{TASK_CONTENT_TYPE};{POLICY_PARAM}={policy}"


def policy_of(content_type: str) -> int:
    """The storage policy a task row's content type names (0 if none)."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key == POLICY_PARAM and value.isascii() and value.isdigit():
            return int(value)
    return 0


def parse_task(name: str, content_type: str = "") -> Task | None:
    """The task a row names, or None for a name that is not one (such a
    row is skipped and left alone)."""
    stamp, sep, path = name.partition("-")
    if not sep or not (stamp.isascii() and stamp.isdigit()):
        return None
    parts = path.split("/", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return Task(int(stamp), parts[0], parts[1], parts[2], policy_of(content_type))


