"""Request headers to database updates, and database state to headers (pure).

The container and account servers are thin: they read headers with these
functions, run a broker method in the device's thread pool, and answer with
headers built here. Nothing in this module touches a file or the network.
"""

from __future__ import annotations

from collections.abc import Mapping

from martlet.errors import BadRequest
from martlet.policies import (
    POLICY_DEFAULT_HEADER, POLICY_INDEX_HEADER, POLICY_NAME_HEADER, StoragePolicies, parse_index,
)
from martlet.timestamp import Timestamp
from storage.async_pending import PendingUpdate
from storage.db.account import AccountInfo, ContainerUpdate
from storage.db.broker import Metadata, visible_metadata
from storage.db.container import AccountTarget, ContainerInfo, ObjectUpdate
from storage.paths import BACKEND_TYPE_HEADER

# Our addition to Swift's account-update headers: when the container's stats
# last changed, so the account keeps the newest stats whatever the arrival
# order (see storage.db.account).
STATS_TIMESTAMP_HEADER = "X-Backend-Stats-Timestamp"
# An object POST's row update: X-Timestamp is the data's (the PUT's), this
# the POST's, which set the content type (see storage.db.container).
CONTENT_TYPE_TIMESTAMP_HEADER = "X-Content-Type-Timestamp"

# Container settings stored like metadata (Swift's list, less container
# sync's X-Container-Sync-To: there is no sync daemon; the sync key is kept,
# a secret the proxy shows to owners only).
CONTAINER_SETTINGS = frozenset(
    {"x-container-read", "x-container-write", "x-container-sync-key", "x-versions-location",
     "x-history-location"}
)


def require_timestamp(headers: Mapping[str, str], name: str = "X-Timestamp") -> str:
    """The request's timestamp in internal form; 400 if missing or malformed."""
    value = headers.get(name)
    if not value:
        raise BadRequest(f"missing {name}")
    return Timestamp.parse(value).internal


def metadata_from_headers(headers: Mapping[str, str], kind: str, timestamp: str) -> Metadata:
    """The metadata a PUT or POST sets, each key stamped with ``timestamp``.

    ``X-Remove-<Kind>-Meta-Foo`` (and an empty value) deletes a key; the
    deletion is itself a timestamped value so that replicas merge it.
    """
    meta_prefix, sysmeta_prefix = f"x-{kind}-meta-", f"x-{kind}-sysmeta-"
    remove_prefix = f"x-remove-{kind}-meta-"
    update: Metadata = {}
    for key, value in headers.items():
        lowered = key.lower()
        if lowered.startswith(remove_prefix):
            name = f"X-{kind.title()}-Meta-" + lowered[len(remove_prefix):]
            update[name.title()] = ("", timestamp)
        elif (
            lowered.startswith(meta_prefix)
            or lowered.startswith(sysmeta_prefix)
            or (kind == "container" and lowered in CONTAINER_SETTINGS)
        ):
            if lowered in (meta_prefix, sysmeta_prefix):
                raise BadRequest("metadata name cannot be empty")
            update[key.title()] = (value.strip(), timestamp)
    return update


def _known_policy(headers: Mapping[str, str], name: str, policies: StoragePolicies) -> int | None:
    try:
        index = parse_index(headers.get(name))
    except ValueError:
        raise BadRequest(f"Invalid {name} {headers.get(name)!r}") from None
    if index is not None and policies.get(index) is None:
        raise BadRequest(f"Invalid {name} {index}")
    return index


def container_policy_from_headers(headers: Mapping[str, str], policies: StoragePolicies) -> tuple[int | None, int]:
    """A container PUT's storage policy: ``(requested, for a new container)``.

    ``requested`` is the proxy's ``X-Backend-Storage-Policy-Index`` (the
    client named a policy), None when the client named none; a new (or
    revived) container takes it, else the proxy's
    ``X-Backend-Storage-Policy-Default``, else this node's default. An index
    this node does not know is 400, as Swift's container server answers.
    """
    requested = _known_policy(headers, POLICY_INDEX_HEADER, policies)
    default = _known_policy(headers, POLICY_DEFAULT_HEADER, policies)
    if requested is not None:
        return requested, requested
    return None, policies.default.index if default is None else default


def account_target_from_headers(headers: Mapping[str, str]) -> AccountTarget | None:
    """``X-Account-Host/Device/Partition`` (hosts and devices comma-separated)."""
    host_text = headers.get("X-Account-Host", "").strip()
    if not host_text:
        return None
    hosts = [h.strip() for h in host_text.split(",")]
    devices = [d.strip() for d in headers.get("X-Account-Device", "").split(",")]
    partition = headers.get("X-Account-Partition", "").strip()
    if len(hosts) != len(devices) or not all(devices) or not partition.isdigit():
        raise BadRequest("X-Account-Host, X-Account-Device, X-Account-Partition do not match")
    for host in hosts:
        _ip, sep, port = host.rpartition(":")
        if not sep or not port.isdigit():
            raise BadRequest(f"invalid X-Account-Host {host!r}")
    return AccountTarget(tuple(zip(hosts, devices)), int(partition))


def _int_header(headers: Mapping[str, str], name: str) -> int:
    value = headers.get(name, "").strip()
    if not value.isdigit():
        raise BadRequest(f"missing or invalid {name}")
    return int(value)


def object_update_from_request(method: str, name: str, headers: Mapping[str, str]) -> ObjectUpdate:
    """An object row from the object server's PUT or DELETE row update."""
    timestamp = require_timestamp(headers)
    if method == "DELETE":
        return ObjectUpdate(name, timestamp, deleted=True)
    etag = headers.get("X-Etag", "").strip()
    if not etag:
        raise BadRequest("missing X-Etag")
    ctype_ts = headers.get(CONTENT_TYPE_TIMESTAMP_HEADER)
    return ObjectUpdate(
        name,
        timestamp,
        size=_int_header(headers, "X-Size"),
        content_type=headers.get("X-Content-Type", "application/octet-stream"),
        etag=etag,
        ctype_timestamp=Timestamp.parse(ctype_ts).internal if ctype_ts else "",
    )


def container_update_from_request(name: str, headers: Mapping[str, str]) -> ContainerUpdate:
    """A container row from a container server's account update."""
    stats_ts = headers.get(STATS_TIMESTAMP_HEADER)
    try:
        policy = parse_index(headers.get(POLICY_INDEX_HEADER)) or 0
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return ContainerUpdate(
        name=name,
        put_timestamp=require_timestamp(headers, "X-Put-Timestamp"),
        delete_timestamp=require_timestamp(headers, "X-Delete-Timestamp"),
        object_count=_int_header(headers, "X-Object-Count"),
        bytes_used=_int_header(headers, "X-Bytes-Used"),
        stats_timestamp=Timestamp.parse(stats_ts).internal if stats_ts else "",
        storage_policy_index=policy,
    )


def account_update_records(info: ContainerInfo) -> list[PendingUpdate]:
    """The account-row updates that report ``info``, one per account server."""
    target = info.account_target
    if target is None:
        return []
    put_ts, delete_ts, count, used = info.report
    headers = {
        BACKEND_TYPE_HEADER: "account",
        # Names the async_pending file: a newer report for the same container
        # gets its own file, an identical one overwrites.
        "X-Timestamp": max(put_ts, delete_ts, info.stats_changed_at),
        "X-Put-Timestamp": put_ts,
        "X-Delete-Timestamp": delete_ts,
        "X-Object-Count": str(count),
        "X-Bytes-Used": str(used),
        STATS_TIMESTAMP_HEADER: info.stats_changed_at,
        POLICY_INDEX_HEADER: str(info.storage_policy_index),
    }
    return [
        PendingUpdate("PUT", host, device, target.partition, info.account, info.container, None, headers)
        for host, device in target.hosts
    ]


def _status_headers(created_at: str, put_ts: str, delete_ts: str, changed_at: str) -> dict[str, str]:
    return {
        "X-Timestamp": Timestamp.parse(created_at).normal,
        "X-PUT-Timestamp": Timestamp.parse(put_ts).normal,
        "X-Backend-Timestamp": created_at,
        "X-Backend-Put-Timestamp": put_ts,
        "X-Backend-Delete-Timestamp": delete_ts,
        "X-Backend-Status-Changed-At": changed_at,
    }


def container_headers(info: ContainerInfo, policies: StoragePolicies) -> dict[str, str]:
    """HEAD/GET headers of a container: stats, timestamps, metadata, and its
    storage policy - the index for the proxy, and the name for the client
    (here rather than in the proxy, since this node names policies in
    account listings anyway; left out if this node does not know it)."""
    headers = _status_headers(
        info.created_at, info.put_timestamp, info.delete_timestamp, info.status_changed_at
    )
    headers["X-Container-Object-Count"] = str(info.object_count)
    headers["X-Container-Bytes-Used"] = str(info.bytes_used)
    headers[POLICY_INDEX_HEADER] = str(info.storage_policy_index)
    policy = policies.get(info.storage_policy_index)
    if policy is not None:
        headers[POLICY_NAME_HEADER] = policy.name
    headers.update(visible_metadata(info.metadata))
    return headers


def deleted_headers(info: ContainerInfo | AccountInfo) -> dict[str, str]:
    """What a 404 for a deleted database carries: proof of when it died.

    The updater reads ``X-Backend-Delete-Timestamp`` to drop updates the
    deletion supersedes; the proxy can use it to pick the newest answer.
    """
    headers = _status_headers(
        info.created_at, info.put_timestamp, info.delete_timestamp, info.status_changed_at
    )
    if isinstance(info, AccountInfo):
        headers["X-Account-Status"] = "Deleted"
    return headers


def account_headers(info: AccountInfo, policies: StoragePolicies) -> dict[str, str]:
    """HEAD/GET headers of an account: totals, and as Swift's
    ``X-Account-Storage-Policy-<name>-Container-Count``, ``-Object-Count``
    and ``-Bytes-Used`` per storage policy it has held containers in (a
    policy this node does not know is left out)."""
    headers = _status_headers(
        info.created_at, info.put_timestamp, info.delete_timestamp, info.status_changed_at
    )
    headers["X-Account-Container-Count"] = str(info.container_count)
    headers["X-Account-Object-Count"] = str(info.object_count)
    headers["X-Account-Bytes-Used"] = str(info.bytes_used)
    for stats in info.policy_stats:
        policy = policies.get(stats.index)
        if policy is None:
            continue
        prefix = f"X-Account-Storage-Policy-{policy.name}"
        headers[f"{prefix}-Container-Count"] = str(stats.container_count)
        headers[f"{prefix}-Object-Count"] = str(stats.object_count)
        headers[f"{prefix}-Bytes-Used"] = str(stats.bytes_used)
    headers.update(visible_metadata(info.metadata))
    return headers
