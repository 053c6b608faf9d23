"""Group commit: concurrent writes to one database share one transaction.

Object servers send a container server one row update per object PUT or
DELETE; under load dozens arrive for the same container database at once,
and a transaction each (open, ``BEGIN IMMEDIATE``, the row, ``COMMIT`` with
its fsyncs) is most of what the container server spends. A ``GroupCommit``
runs the first update of a database at once and gathers every update that
arrives meanwhile into the next transaction, so at most one transaction
per database is under way and each carries all that waited for it.

Durability does not change: each caller is answered only after the
transaction that holds its update has committed (or with that
transaction's error), exactly as with a transaction of its own. A lone
update waits for nothing: there is no batching window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from storage.devices import DeviceIO

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Waiting(Generic[Item, Result]):
    items: list[Item] = field(default_factory=list)
    futures: list[asyncio.Future[Result]] = field(default_factory=list)


class GroupCommit(Generic[Item, Result]):
    """Per key (a database file), at most one ``apply(items)`` running in
    the device's thread pool; what is submitted meanwhile waits for the next."""

    def __init__(self, io: DeviceIO) -> None:
        self._io = io
        self._waiting: dict[str, _Waiting[Item, Result]] = {}
        self._drains: set[asyncio.Task[None]] = set()

    async def submit(self, device: str, key: str, item: Item,
                     apply: Callable[[Sequence[Item]], Result]) -> Result:
        """``apply``'s result for the batch that holds ``item``, once it is
        committed. ``apply`` must mean the same for every item of a key."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.get(key)
        if waiting is None:
            waiting = self._waiting[key] = _Waiting()
            # A task of its own, so that a caller that goes away (a client
            # disconnect) does not strand the others' answers.
            drain = asyncio.create_task(self._drain(device, key, apply))
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        waiting.items.append(item)
        waiting.futures.append(future)
        return await future

    async def _drain(self, device: str, key: str, apply: Callable[[Sequence[Item]], Result]) -> None:
        while True:
            waiting = self._waiting[key]
            if not waiting.items:
                del self._waiting[key]
                return
            self._waiting[key] = _Waiting()
            try:
                result = await self._io.run(device, apply, waiting.items)
            except asyncio.CancelledError:  # shutdown: nobody is left to answer
                for future in waiting.futures + self._waiting.pop(key).futures:
                    future.cancel()
                raise
            except Exception as exc:  # every waiter of the batch gets its error
                for future in waiting.futures:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for future in waiting.futures:
                    if not future.done():
                        future.set_result(result)

    async def close(self) -> None:
        """Wait for the batches under way (the device pools close after)."""
        if self._drains:
            await asyncio.gather(*self._drains, return_exceptions=True)
