"""Pure: the container-row updates an object server sends after a write.

An object PUT, DELETE or content-type POST carries the container replicas to
tell in ``X-Container-Host/Device/Partition``; these functions turn the
request and the object's metadata into ``PendingUpdate`` records, which the
object server sends (or queues in async_pending) once the object is durable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from martlet.content_type import split_swift_bytes, with_swift_bytes
from martlet.digest import EMPTY_MD5
from martlet.errors import BadRequest
from martlet.expiring import HIDDEN_ACCOUNT, task_container, task_content_type, task_name
from martlet.policies import POLICY_INDEX_HEADER
from martlet.timestamp import Timestamp
from storage.async_pending import PendingUpdate
from storage.metadata import ObjectMetadata
from storage.object_headers import DEFAULT_CONTENT_TYPE
from storage.paths import BACKEND_TYPE_HEADER, EntityPath


def container_targets(headers: Mapping[str, str]) -> tuple[list[tuple[str, str]], int]:
    """Pure: ``([(host, device), ...], partition)`` from the X-Container-* headers.

    Hosts and devices are comma-separated lists paired in order (the proxy
    may give one object server several container replicas). 400 if they do
    not pair up or a host is not ``ip:port``.
    """
    hosts = [h.strip() for h in headers.get("X-Container-Host", "").split(",") if h.strip()]
    devices = [d.strip() for d in headers.get("X-Container-Device", "").split(",") if d.strip()]
    partition = headers.get("X-Container-Partition", "").strip()
    if not hosts and not devices:
        return [], 0
    if len(hosts) != len(devices) or not partition.isascii() or not partition.isdigit():
        raise BadRequest("X-Container-Host, -Device and -Partition do not match")
    for host in hosts:
        ip, sep, port = host.rpartition(":")
        if not sep or not ip or not port.isdigit():
            raise BadRequest("X-Container-Host must be ip:port")
    return list(zip(hosts, devices)), int(partition)


# Request headers by which the proxy replaces what a PUT's container update
# reports (an SLO manifest's row: ``swift_bytes`` and the SLO ETag), mapped
# to the update header each replaces. Only the proxy sets them: it never
# passes a client's X-Backend-* headers on.
CONTAINER_UPDATE_OVERRIDES = {
    "X-Backend-Container-Update-Override-Size": "X-Size",
    "X-Backend-Container-Update-Override-Etag": "X-Etag",
    "X-Backend-Container-Update-Override-Content-Type": "X-Content-Type",
}


# An object's own lasting override of its row's ETag (a symlink's target in
# the ETag's parameters), kept with its metadata, so POSTs keep the row.
OVERRIDE_ETAG_SYSMETA = "x-object-sysmeta-container-update-override-etag"


def container_update_overrides(headers: Mapping[str, str]) -> dict[str, str]:
    """Pure: ``{update header: value}`` from the override headers; 400 for a
    size that is not a number or an empty ETag (the row would be refused)."""
    out: dict[str, str] = {}
    lasting = next((v for k, v in headers.items() if k.lower() == OVERRIDE_ETAG_SYSMETA), "").strip()
    if lasting:
        out["X-Etag"] = lasting
    for name, replaced in CONTAINER_UPDATE_OVERRIDES.items():
        value = headers.get(name)
        if value is None:
            continue
        value = value.strip()
        if replaced == "X-Size" and not (value.isascii() and value.isdigit()):
            raise BadRequest(f"{name} must be a non-negative integer")
        if not value:
            raise BadRequest(f"{name} is empty")
        out[replaced] = value
    return out


def container_updates(
    headers: Mapping[str, str], path: EntityPath, method: str, timestamp: Timestamp, meta: ObjectMetadata,
    policy: int = 0,
) -> list[PendingUpdate]:
    """Pure: the row updates an object PUT or DELETE of storage policy
    ``policy`` sends to its container servers (each says the policy, and
    is queued in that policy's async_pending).

    A content type's own ``swift_bytes`` is dropped unless the proxy
    overrides the content type: only a manifest PUT may set the total a
    listing shows.
    """
    targets, partition = container_targets(headers)
    update_headers = {
        BACKEND_TYPE_HEADER: "container",
        "X-Timestamp": timestamp.internal,
        POLICY_INDEX_HEADER: str(policy),
    }
    if method == "PUT":
        content_type, _ = split_swift_bytes(meta.content_type or DEFAULT_CONTENT_TYPE)
        update_headers.update(
            {
                "X-Size": str(meta.content_length or 0),
                "X-Content-Type": content_type,
                "X-Etag": meta.etag or "",
            }
        )
        update_headers.update(container_update_overrides(headers))
    assert path.names.container is not None
    return [
        PendingUpdate(method, host, device, partition, path.names.account, path.names.container, path.names.obj,
                      update_headers, policy)
        for host, device in targets
    ]


SLO_ETAG_SYSMETA = "x-object-sysmeta-slo-etag"
SLO_SIZE_SYSMETA = "x-object-sysmeta-slo-size"


def post_container_updates(
    headers: Mapping[str, str], path: EntityPath, data: ObjectMetadata, content_type: str, timestamp: Timestamp,
    policy: int = 0,
) -> list[PendingUpdate]:
    """Pure: the row updates of an object POST; ``content_type`` is the
    one in force after it.

    ``X-Timestamp`` stays the data's, so the row can never beat a newer
    PUT's; ``X-Content-Type-Timestamp`` (the POST's) orders it after the
    PUT's own row and after older POSTs', so replays change nothing, and
    dates the listed object. An SLO
    manifest's row keeps its large-object form (``swift_bytes`` and
    ``slo_etag``, from the manifest's sysmeta).
    """
    records = container_updates(headers, path, "PUT", data.timestamp, replace(data, content_type=content_type), policy)
    sys_meta = {k.lower(): v for k, v in data.sys_meta.items()}
    slo_etag, slo_size = sys_meta.get(SLO_ETAG_SYSMETA), sys_meta.get(SLO_SIZE_SYSMETA, "")
    extra = {"X-Content-Type-Timestamp": timestamp.internal}
    if sys_meta.get(OVERRIDE_ETAG_SYSMETA):
        extra["X-Etag"] = sys_meta[OVERRIDE_ETAG_SYSMETA]
    if slo_etag and slo_size.isdigit():
        first = records[0].headers if records else {}
        extra["X-Content-Type"] = with_swift_bytes(first.get("X-Content-Type", content_type), int(slo_size))
        extra["X-Etag"] = f"{data.etag}; slo_etag={slo_etag}"
    return [replace(r, headers={**r.headers, **extra}) for r in records]


def task_targets(headers: Mapping[str, str]) -> tuple[str, list[tuple[str, str]], int, dict[str, str]]:
    """Pure: ``(task container, [(host, device), ...], partition, account
    headers)`` from the proxy's ``X-Delete-At-Container/-Host/-Device/
    -Partition`` and ``X-Delete-At-Account-*``; empty when absent, 400 when
    they do not pair up."""
    container = headers.get("X-Delete-At-Container", "").strip()
    renamed = {f"X-Container-{k}": headers.get(f"X-Delete-At-{k}", "") for k in ("Host", "Device", "Partition")}
    targets, partition = container_targets(renamed)
    if not targets:
        return "", [], 0, {}
    if not container.isascii() or not container.isdigit():
        raise BadRequest("X-Delete-At-Container must be a task container name")
    account = {f"X-Account-{k}": headers.get(f"X-Delete-At-Account-{k}", "").strip()
               for k in ("Host", "Device", "Partition")}
    return container, targets, partition, account if account["X-Account-Host"] else {}


def expirer_task_updates(
    headers: Mapping[str, str], path: EntityPath, timestamp: Timestamp, old: int | None, new: int | None,
    policy: int = 0,
) -> list[PendingUpdate]:
    """Pure: the rows of the expirer's queue that a write moving the
    object's ``X-Delete-At`` from ``old`` to ``new`` sends: a PUT of the
    new task, a DELETE of the old one. Only the task container the proxy
    named can be reached: an old task elsewhere is left for the expirer,
    whose ``X-If-Delete-At`` DELETE then finds the times differ (412) and
    drops it. Nothing at all when the time did not change (neither set,
    the common write, included)."""
    if old == new:
        return []
    container, targets, partition, account = task_targets(headers)
    if not targets:
        return []
    assert path.names.container is not None and path.names.obj is not None
    names = (path.names.account, path.names.container, path.names.obj)
    base = {BACKEND_TYPE_HEADER: "container", "X-Timestamp": timestamp.internal, POLICY_INDEX_HEADER: "0", **account}
    records: list[PendingUpdate] = []
    if new is not None and task_container(new) == container:
        put = {**base, "X-Size": "0", "X-Content-Type": task_content_type(policy), "X-Etag": EMPTY_MD5}
        records += [PendingUpdate("PUT", host, device, partition, HIDDEN_ACCOUNT, container, task_name(new, *names), put)
                    for host, device in targets]
    if old is not None and task_container(old) == container:
        records += [PendingUpdate("DELETE", host, device, partition, HIDDEN_ACCOUNT, container,
                                  task_name(old, *names), base)
                    for host, device in targets]
    return records
