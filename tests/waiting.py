"""A bounded wait for async tests: poll what the test waits for, never
sleep for a guessed time."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


async def until(condition: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll ``condition()`` (a value, or an awaitable giving one) until it
    is truthy, and return it; fail after ``timeout / interval`` polls."""
    for _ in range(max(1, round(timeout / interval))):
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return held
        await asyncio.sleep(interval)
    raise AssertionError("the condition was never reached")
