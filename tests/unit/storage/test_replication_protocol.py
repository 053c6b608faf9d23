"""storage.replication_protocol: typed messages survive their wire form,
older senders' forms still decode, and malformed input is a ValueError (a
400 at the receiver), never a crash."""

from __future__ import annotations

import msgpack
import pytest

from martlet.errors import BadRequest
from storage.db import ContainerUpdate, ObjectUpdate
from storage.replication_protocol import (
    DbInfo,
    MergeRequest,
    SyncReply,
    SyncRequest,
    SyncRow,
    decode_hashes,
    decode_listing,
    decode_partition_hashes,
    decode_partitions,
    decode_request,
    encode_request,
    pack,
    replicated_write_framing,
    replicated_write_headers,
)

T1, T2 = "1700000001.00000", "1700000002.00000"
INFO = DbInfo(
    kind="container", id="db-1", account="a", container="c", put_timestamp=T1, delete_timestamp=T2,
    object_count=3, container_count=0, account_target="", metadata={"X-Container-Meta-A": ("1", T1)}, max_row=9,
)


def test_sync_and_merge_requests_round_trip() -> None:
    rows = (
        SyncRow(4, ObjectUpdate("o", T1, 5, "text/plain", "e", False, T2)),
        SyncRow(5, ObjectUpdate("gone", T2, deleted=True)),
    )
    for request in (SyncRequest(INFO, "db-1"), SyncRequest(INFO, "db-1", create=True), MergeRequest("db-1", 5, rows)):
        assert decode_request("container", encode_request(request)) == request


def test_account_rows_round_trip() -> None:
    row = SyncRow(1, ContainerUpdate("c", T1, T2, 0, 0, T2, storage_policy_index=2))
    assert row.to_wire() == [1, "c", T1, T2, 0, 0, T2, 1, 2]
    assert SyncRow.from_wire("account", row.to_wire()) == row


def test_an_older_senders_forms_decode() -> None:
    # Its info was the whole stats row; its container rows lacked ctype_timestamp.
    old_info = {"account": "a", "container": "c", "created_at": T1, "put_timestamp": T1, "delete_timestamp": "0",
                "status_changed_at": T1, "object_count": 0, "bytes_used": 0, "reported_object_count": 0,
                "account_target": "", "id": "x", "metadata": {}, "max_row": -1, "kind": "container"}
    info = DbInfo.from_wire("container", old_info)
    assert (info.id, info.delete_timestamp, info.max_row) == ("x", "0", -1)
    row = SyncRow.from_wire("container", [1, "o", T1, 3, "text/plain", "e1", 0])
    assert row.row == ObjectUpdate("o", T1, 3, "text/plain", "e1", False, "")
    # ... and it knew no storage policies: its container's policy is left
    # as the receiver has it, its account rows are policy 0.
    assert info.storage_policy_index is None
    account_row = SyncRow.from_wire("account", [1, "c", T1, T2, 0, 0, T2, 1])
    assert isinstance(account_row.row, ContainerUpdate) and account_row.row.storage_policy_index == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xc1", "undecodable"),
        (pack({"op": "sync"}), "sender_id"),
        (pack({"op": "sync", "sender_id": "s"}), "sync needs info"),
        (pack({"op": "sync", "sender_id": "s", "info": {"account": "a"}}), "names"),
        (pack({"op": "sync", "sender_id": "s", "info": {"account": "a", "container": "c"}}), "malformed info"),
        (pack({"op": "merge", "sender_id": "s", "rows": [], "point": "1"}), "rows and point"),
        (pack({"op": "merge", "sender_id": "s", "rows": [[1, "o"]], "point": 1}), "malformed rows"),
        (pack({"op": "drop", "sender_id": "s"}), "unknown"),
    ],
)
def test_malformed_requests_are_value_errors(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_request("container", body)


def test_sync_reply_and_object_answers() -> None:
    assert SyncReply.decode(SyncReply("id", 4, 9).encode()) == SyncReply("id", 4, 9)
    assert decode_hashes(pack({"abc": "d41d"})) == {"abc": "d41d"}
    assert decode_listing(pack({"abc": {"h": ["1.data"]}})) == {"abc": {"h": ["1.data"]}}
    for decode in (SyncReply.decode, decode_hashes, decode_listing):
        with pytest.raises(ValueError):
            decode(msgpack.packb([1, 2]))


def test_replicated_write_headers_frame_what_the_receiver_parses() -> None:
    headers = replicated_write_headers(".data", 40, 1000)
    assert headers["Content-Length"] == "1040"
    assert replicated_write_framing(headers) == (".data", 40)
    with pytest.raises(BadRequest):
        replicated_write_framing({**headers, "X-Backend-Replication-Ext": ".exe"})
    with pytest.raises(BadRequest):
        replicated_write_framing({**headers, "X-Backend-Replication-Metadata-Length": "0"})


def test_partition_batches_round_trip_and_refuse_garbage() -> None:
    assert decode_partitions(pack([0, 7, 1023])) == [0, 7, 1023]
    for bad in (pack({"a": 1}), pack([True]), pack([-1]), pack(list(range(1025))), b"\xc1"):
        with pytest.raises(ValueError):
            decode_partitions(bad)
    assert decode_partition_hashes(pack({3: {"abc": "d" * 32}, 9: {}})) == {3: {"abc": "d" * 32}, 9: {}}
    for bad in (pack({"3": {}}), pack({3: "x"}), pack([1])):
        with pytest.raises(ValueError):
            decode_partition_hashes(bad)
