"""The replication protocol: what a replicator and a peer's storage daemon
say to each other, written down once.

Both sides import this module - the storage daemon's endpoints
(``storage.replication``, ``storage.db_replication``) and the replicators
(``replicator.object_peer``, ``replicator.db_replicator``) - so header
names, messages and their wire form (msgpack) have one home, and typed
records, not loose maps, cross the module borders.

Objects:

* replicated write: ``PUT /<dev>/<part>/<a>/<c>/<o>`` with
  ``X-Backend-Replication: true``, ``X-Backend-Replication-Ext`` (``.data``,
  ``.ts`` or ``.meta``) and ``X-Backend-Replication-Metadata-Length``; the
  body is the file's metadata blob (``storage.metadata.encode_metadata``)
  followed, for ``.data``, by exactly ``content_length`` body bytes.
* ``REPLICATE /<dev>/<part>[/<suffix>-<suffix>...]``: the partition's suffix
  hashes, ``{suffix: md5 hex}``, after rehashing the named suffixes.
* the same with ``X-Backend-Replication-Op: list``: the file names of every
  hash directory in the named suffixes, ``{suffix: {hash: [name, ...]}}``.

Databases: ``REPLICATE /<dev>/<part>/<hash>`` with ``X-Backend-Type:
container|account`` and a msgpack map body:

* ``sync`` ``{info, sender_id}`` (``SyncRequest``): merge the sender's
  status and metadata; answer ``{"id", "point", "max_row"}``
  (``SyncReply``), ``point`` being the highest of the sender's ROWIDs
  already merged here (-1: none). 404 when there is no such database.
* ``create`` ``{info, sender_id}``: make the database from the sender's
  info first, then answer as ``sync``.
* ``merge`` ``{rows, sender_id, point}`` (``MergeRequest``): merge rows and
  remember ``point`` for the sender; 204.

``info`` is a map of the stats row (``DbInfo``). A row is a list, ROWID
first, then the table's columns in order (``SyncRow``)::

    container: [rowid, name, created_at, size, content_type, etag, deleted, ctype_timestamp]
    account:   [rowid, name, put_timestamp, delete_timestamp, object_count,
                bytes_used, stats_timestamp, deleted, storage_policy_index]

A container row from a sender older than ``ctype_timestamp`` lacks it, an
account row from a sender older than storage policies its policy (0), and
such a sender's container info its ``storage_policy_index`` (None: the
receiver keeps its own).
Every decoder raises ``ValueError`` (with a reason fit for a 400) for
anything malformed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

from martlet.config import parse_bool
from martlet.errors import BadRequest
from martlet.hashing import HashSection, hash_path
from storage.db import ContainerUpdate, ObjectUpdate
from storage.db.broker import ZERO_TIMESTAMP, Metadata
from storage.diskfile import DATA, META, TOMBSTONE
from storage.partition_hashes import PartitionListing
from storage.paths import BACKEND_TYPE_HEADER

REPLICATION_HEADER = "X-Backend-Replication"
EXT_HEADER = "X-Backend-Replication-Ext"
META_LENGTH_HEADER = "X-Backend-Replication-Metadata-Length"
OP_HEADER = "X-Backend-Replication-Op"
LIST_OP = "list"
# The suffix hashes of many partitions of a device in one request: the body
# lists the partitions (a replication pass over a quiet cluster is then a
# few requests per peer, not two per partition).
HASHES_OP = "hashes"
MAX_PARTITIONS_PER_REQUEST = 1024
MSGPACK_TYPE = "application/x-msgpack"
MAX_METADATA_BYTES = 1 << 20  # far above any real metadata blob
SYNC, CREATE, MERGE = "sync", "create", "merge"


def pack(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def unpack(body: bytes, int_keys: bool = False) -> Any:
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=not int_keys)
    except (ValueError, msgpack.UnpackException):
        raise ValueError("undecodable msgpack") from None


# -- objects -----------------------------------------------------------------


def replicated_write_headers(ext: str, metadata_length: int, body_length: int) -> dict[str, str]:
    """The headers of a replicated write of one file."""
    return {
        REPLICATION_HEADER: "true",
        EXT_HEADER: ext,
        META_LENGTH_HEADER: str(metadata_length),
        "Content-Length": str(metadata_length + body_length),
    }


def is_replicated(headers: Mapping[str, str]) -> bool:
    """True for a replicated write; 400 for a value that is not a boolean."""
    value = headers.get(REPLICATION_HEADER)
    if not value:
        return False
    try:
        return parse_bool(value)
    except ValueError:
        raise BadRequest(f"invalid {REPLICATION_HEADER}") from None


def replicated_write_framing(headers: Mapping[str, str]) -> tuple[str, int]:
    """``(ext, metadata length)`` of a replicated write; 400 if either is bad."""
    ext = headers.get(EXT_HEADER, "")
    if ext not in (DATA, META, TOMBSTONE):
        raise BadRequest(f"{EXT_HEADER} must be .data, .ts or .meta")
    length_text = headers.get(META_LENGTH_HEADER, "")
    if not length_text.isdigit() or not 0 < int(length_text) <= MAX_METADATA_BYTES:
        raise BadRequest(f"invalid {META_LENGTH_HEADER}")
    return ext, int(length_text)


def is_listing(headers: Mapping[str, str]) -> bool:
    """An object REPLICATE that asks for file names, not suffix hashes."""
    return headers.get(OP_HEADER, "").strip().lower() == LIST_OP


def is_partition_batch(headers: Mapping[str, str]) -> bool:
    """An object REPLICATE that asks for the hashes of several partitions."""
    return headers.get(OP_HEADER, "").strip().lower() == HASHES_OP


def decode_partitions(body: bytes) -> list[int]:
    """The partitions a batched REPLICATE names; ValueError when it is not a
    list of at most ``MAX_PARTITIONS_PER_REQUEST`` partition numbers."""
    data = unpack(body)
    if not isinstance(data, list):
        raise ValueError("not a list of partitions")
    if len(data) > MAX_PARTITIONS_PER_REQUEST:
        raise ValueError(f"more than {MAX_PARTITIONS_PER_REQUEST} partitions")
    if not all(type(part) is int and 0 <= part < 1 << 32 for part in data):
        raise ValueError("not a list of partitions")
    return data


def decode_partition_hashes(body: bytes) -> dict[int, dict[str, str]]:
    data = unpack(body, int_keys=True)
    if not isinstance(data, dict) or not all(
        type(part) is int and isinstance(hashes, dict) for part, hashes in data.items()
    ):
        raise ValueError("partition hashes are not a map of maps")
    return {part: {str(s): str(d) for s, d in hashes.items()} for part, hashes in data.items()}


def decode_hashes(body: bytes) -> dict[str, str]:
    data = unpack(body)
    if not isinstance(data, dict):
        raise ValueError("suffix hashes are not a map")
    return {str(suffix): str(digest) for suffix, digest in data.items()}


def decode_listing(body: bytes) -> PartitionListing:
    data = unpack(body)
    try:
        return {
            str(suffix): {str(h): [str(name) for name in names] for h, names in hashes.items()}
            for suffix, hashes in data.items()
        }
    except (AttributeError, TypeError):
        raise ValueError("malformed suffix listing") from None


# -- databases ---------------------------------------------------------------


def db_replicate_headers(kind: str) -> dict[str, str]:
    return {BACKEND_TYPE_HEADER: kind, "Content-Type": MSGPACK_TYPE}


@dataclass(frozen=True)
class DbInfo:
    """A database's status as replication ships it. ``kind`` ("container"
    or "account") travels too, but a receiver takes its own from
    ``X-Backend-Type``."""

    kind: str
    id: str  # the database's own id: names it as a sender
    account: str
    container: str | None
    put_timestamp: str
    delete_timestamp: str
    object_count: int
    container_count: int  # accounts; 0 for a container
    account_target: str  # containers: the encoded AccountTarget, "" if none
    metadata: Metadata
    max_row: int  # the highest ROWID of its rows, -1 for none
    # Containers: the storage policy (None from a sender that predates
    # policies) and when the status last changed, which decide between
    # replicas that disagree (storage.db.container.peer_policy_wins).
    storage_policy_index: int | None = None
    status_changed_at: str = ZERO_TIMESTAMP

    @property
    def live_rows(self) -> int:
        """Rows that keep it from being reclaimed: objects, or containers."""
        return self.object_count if self.kind == "container" else self.container_count

    def name_hash(self, settings: HashSection) -> str:
        """The hash directory its names belong in."""
        return hash_path(self.account, self.container, settings=settings)

    def to_wire(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "id": self.id,
            "account": self.account,
            "container": self.container,
            "put_timestamp": self.put_timestamp,
            "delete_timestamp": self.delete_timestamp,
            "object_count": self.object_count,
            "container_count": self.container_count,
            "account_target": self.account_target,
            "metadata": {key: [value, stamp] for key, (value, stamp) in self.metadata.items()},
            "max_row": self.max_row,
            "storage_policy_index": self.storage_policy_index,
            "status_changed_at": self.status_changed_at,
        }

    @classmethod
    def from_wire(cls, kind: str, raw: object) -> DbInfo:
        if not isinstance(raw, dict):
            raise ValueError("sync needs info")
        account = raw.get("account")
        container = raw.get("container") if kind == "container" else None
        if not isinstance(account, str) or (kind == "container" and not isinstance(container, str)):
            raise ValueError("info lacks the database's names")
        try:
            return cls(
                kind=kind,
                id=str(raw.get("id", "")),
                account=account,
                container=container,
                put_timestamp=str(raw["put_timestamp"]),
                delete_timestamp=str(raw.get("delete_timestamp") or ZERO_TIMESTAMP),
                object_count=int(raw.get("object_count") or 0),
                container_count=int(raw.get("container_count") or 0),
                account_target=str(raw.get("account_target") or ""),
                metadata={str(k): (str(v[0]), str(v[1])) for k, v in (raw.get("metadata") or {}).items()},
                max_row=int(raw.get("max_row", -1)),
                storage_policy_index=_optional_index(raw.get("storage_policy_index")),
                status_changed_at=str(raw.get("status_changed_at") or ZERO_TIMESTAMP),
            )
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise ValueError("malformed info") from None


def _optional_index(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or value < 0:
        raise ValueError("invalid storage policy index")
    return value


@dataclass(frozen=True)
class SyncRow:
    """One row as replication ships it: its ROWID on the sender, and the row."""

    rowid: int
    row: ObjectUpdate | ContainerUpdate

    def to_wire(self) -> list[object]:
        r = self.row
        if isinstance(r, ObjectUpdate):
            return [self.rowid, r.name, r.created_at, r.size, r.content_type, r.etag, int(r.deleted), r.ctype_timestamp]
        return [
            self.rowid, r.name, r.put_timestamp, r.delete_timestamp, r.object_count, r.bytes_used,
            r.stats_timestamp, int(r.deleted), r.storage_policy_index,
        ]

    @classmethod
    def from_wire(cls, kind: str, raw: object) -> SyncRow:
        """A row of a ``kind`` database from its list form (also the
        column order ``storage.db_sync`` selects rows in)."""
        if not isinstance(raw, (list, tuple)):
            raise ValueError("malformed rows")
        try:
            row: ObjectUpdate | ContainerUpdate
            if kind == "container":
                ctype_timestamp = str(raw[7]) if len(raw) > 7 else ""
                row = ObjectUpdate(
                    str(raw[1]), str(raw[2]), int(raw[3]), str(raw[4]), str(raw[5]), bool(raw[6]), ctype_timestamp
                )
            else:
                policy = int(raw[8]) if len(raw) > 8 else 0
                row = ContainerUpdate(
                    str(raw[1]), str(raw[2]), str(raw[3]), int(raw[4]), int(raw[5]), str(raw[6]), policy
                )
            return cls(int(raw[0]), row)
        except (IndexError, TypeError, ValueError):
            raise ValueError("malformed rows") from None


@dataclass(frozen=True)
class SyncRequest:
    """``sync``, or ``create`` for a peer that lacks the database."""

    info: DbInfo
    sender_id: str
    create: bool = False

    def to_wire(self) -> dict[str, object]:
        return {"op": CREATE if self.create else SYNC, "info": self.info.to_wire(), "sender_id": self.sender_id}


@dataclass(frozen=True)
class MergeRequest:
    """``merge``: rows after the peer's sync point, and the new point."""

    sender_id: str
    point: int
    rows: tuple[SyncRow, ...]

    def to_wire(self) -> dict[str, object]:
        return {"op": MERGE, "rows": [r.to_wire() for r in self.rows], "sender_id": self.sender_id, "point": self.point}


DbRequest = SyncRequest | MergeRequest


def encode_request(request: DbRequest) -> bytes:
    return pack(request.to_wire())


def decode_request(kind: str, body: bytes) -> DbRequest:
    """The database REPLICATE body sent to a ``kind`` database."""
    try:
        data = unpack(body)
    except ValueError:
        raise ValueError("undecodable REPLICATE body") from None
    if not isinstance(data, dict) or not isinstance(data.get("sender_id"), str):
        raise ValueError("REPLICATE body must be a map with op and sender_id")
    op, sender = data.get("op"), data["sender_id"]
    if op in (SYNC, CREATE):
        return SyncRequest(DbInfo.from_wire(kind, data.get("info")), sender, create=op == CREATE)
    if op == MERGE:
        rows, point = data.get("rows"), data.get("point")
        if not isinstance(rows, list) or not isinstance(point, int):
            raise ValueError("merge needs rows and point")
        return MergeRequest(sender, point, tuple(SyncRow.from_wire(kind, r) for r in rows))
    raise ValueError("unknown REPLICATE op")


@dataclass(frozen=True)
class SyncReply:
    """The answer to ``sync``/``create``."""

    id: str
    point: int  # the highest of the sender's ROWIDs merged here, -1 for none
    max_row: int

    def encode(self) -> bytes:
        return pack({"id": self.id, "point": self.point, "max_row": self.max_row})

    @classmethod
    def decode(cls, body: bytes) -> SyncReply:
        data = unpack(body)
        if not isinstance(data, dict):
            raise ValueError("sync reply is not a map")
        try:
            return cls(str(data.get("id", "")), int(data.get("point", -1)), int(data.get("max_row", -1)))
        except (TypeError, ValueError):
            raise ValueError("malformed sync reply") from None
