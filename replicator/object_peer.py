"""Talking to one peer device about one partition of one storage policy:
suffix hashes, suffix listings, replicated writes (the object half of
``storage.replication_protocol``).

Every call returns None/False on any failure of the peer (refused, timed
out, 5xx, 507) instead of raising, because a pass goes on when one peer is
down; the caller counts the failure. A peer that refused a connection is
remembered for the rest of the pass (``PeerState.down``), so a dead node
costs one refused connect per pass, not one per partition.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiohttp

from martlet.backend import backend_path, backend_request
from martlet.policies import POLICY_INDEX_HEADER
from replicator.plan import Push
from ring import Device
from storage.diskfile import DATA
from storage.metadata import CorruptObject, ObjectMetadata, encode_metadata, read_metadata
from storage.partition_hashes import PartitionListing
from storage.replication_protocol import (
    HASHES_OP,
    LIST_OP,
    OP_HEADER,
    decode_hashes,
    decode_listing,
    decode_partition_hashes,
    pack,
    replicated_write_headers,
)

log = logging.getLogger(__name__)

# ValueError: an answer that does not decode (storage.replication_protocol).
PEER_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError)
# Suffixes named per REPLICATE request: keeps the request line far below
# the 8 KiB servers accept.
SUFFIXES_PER_REQUEST = 400
PUSHED, HELD, FAILED = "pushed", "held", "failed"

T = TypeVar("T")


def node_key(node: Device) -> str:
    return f"{node.ip}:{node.port}"


@dataclass
class PeerState:
    """What one pass learned about peers: which hosts are down."""

    down: set[str] = field(default_factory=set)


def _batches(items: list[str], size: int = SUFFIXES_PER_REQUEST) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ObjectPeer:
    """One device of a peer node, for one partition."""

    def __init__(self, session: aiohttp.ClientSession, node: Device, partition: int, peers: PeerState,
                 policy: int = 0) -> None:
        self.session = session
        self.node = node
        self.partition = partition
        self.peers = peers
        # Every request names the storage policy (objects-N/ on the peer).
        self.policy_headers = {POLICY_INDEX_HEADER: str(policy)}

    @property
    def is_down(self) -> bool:
        return node_key(self.node) in self.peers.down

    async def _replicate(
        self, suffixes: list[str], headers: dict[str, str], decode: Callable[[bytes], T], body: bytes | None = None
    ) -> T | None:
        """One REPLICATE, its answer decoded; None when the peer failed."""
        path = f"/{self.node.device}/{self.partition}"
        if suffixes:
            path += "/" + "-".join(suffixes)
        try:
            response = await backend_request(self.session, self.node.ip, self.node.port, "REPLICATE", path,
                                             headers={**headers, **self.policy_headers}, data=body)
            async with response:
                body = await response.read()
                if response.status != 200:
                    log.info("REPLICATE refused", extra={"node": node_key(self.node), "status": response.status})
                    return None
            return decode(body)
        except aiohttp.ClientConnectorError as exc:
            self.peers.down.add(node_key(self.node))
            log.info("peer down", extra={"node": node_key(self.node), "error": repr(exc)})
        except PEER_ERRORS as exc:
            log.info("REPLICATE failed", extra={"node": node_key(self.node), "error": repr(exc)})
        return None

    async def hashes(self, recalculate: list[str] = ()) -> dict[str, str] | None:  # type: ignore[assignment]
        """Suffix hashes, after rehashing ``recalculate`` (None: peer failed)."""
        merged: dict[str, str] = {}
        for batch in _batches(list(recalculate)) if recalculate else [[]]:
            answer = await self._replicate(batch, {}, decode_hashes)
            if answer is None:
                return None
            merged = answer
        return merged

    async def hashes_of(self, partitions: list[int]) -> dict[int, dict[str, str]] | None:
        """The suffix hashes of each of ``partitions`` (this peer's first),
        in one request; None when the peer failed or does not know how."""
        return await self._replicate([], {OP_HEADER: HASHES_OP}, decode_partition_hashes, pack(partitions))

    async def listing(self, suffixes: list[str]) -> PartitionListing | None:
        """``{suffix: {hash: [names]}}`` of the peer for ``suffixes``."""
        out: PartitionListing = {}
        for batch in _batches(suffixes):
            answer = await self._replicate(batch, {OP_HEADER: LIST_OP}, decode_listing)
            if answer is None:
                return None
            out.update(answer)
        return out

    async def push(self, part_dir: Path, push: Push, chunk_size: int) -> str:
        """Send one file with its own metadata and timestamp. ``PUSHED`` when
        the peer stored it (201), ``HELD`` when it needs it no more (409: it
        holds it or something newer, or we no longer do), else ``FAILED``."""
        hash_dir = part_dir / push.suffix / push.hash
        filename = push.filename
        try:
            fd = await asyncio.to_thread(os.open, hash_dir / filename, os.O_RDONLY)
        except FileNotFoundError:
            return HELD  # superseded locally since the listing: nothing to send
        try:
            meta = await asyncio.to_thread(read_metadata, fd)
            return await self._send(fd, meta, push.ext, chunk_size)
        except CorruptObject as exc:
            log.warning("not pushing a corrupt file", extra={"file": str(hash_dir / filename), "error": exc.reason})
            return FAILED
        finally:
            os.close(fd)

    async def _send(self, fd: int, meta: ObjectMetadata, ext: str, chunk_size: int) -> str:
        account, container, obj = meta.name[1:].split("/", 2)
        blob = encode_metadata(meta)
        length = (meta.content_length or 0) if ext == DATA else 0
        headers = {**replicated_write_headers(ext, len(blob), length), **self.policy_headers}
        path = backend_path(self.node.device, self.partition, account, container, obj)
        try:
            response = await backend_request(
                self.session, self.node.ip, self.node.port, "PUT", path,
                headers=headers, data=_body(blob, fd, length, chunk_size),
            )
            async with response:
                await response.read()
                status = response.status
        except aiohttp.ClientConnectorError:
            self.peers.down.add(node_key(self.node))
            return FAILED
        except PEER_ERRORS as exc:
            log.info("push failed", extra={"node": node_key(self.node), "object": meta.name, "error": repr(exc)})
            return FAILED
        if status == 201:
            return PUSHED
        if status == 409:
            return HELD
        log.info("push refused", extra={"node": node_key(self.node), "object": meta.name, "status": status})
        return FAILED


async def _body(blob: bytes, fd: int, length: int, chunk_size: int) -> AsyncIterator[bytes]:
    """The metadata blob, then ``length`` body bytes read off the loop."""
    yield blob
    offset = 0
    while offset < length:
        data = await asyncio.to_thread(os.pread, fd, min(chunk_size, length - offset), offset)
        if not data:
            raise OSError("file shorter than its metadata")
        offset += len(data)
        yield data
