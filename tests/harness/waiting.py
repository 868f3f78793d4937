"""Waiting on a condition with a deadline (never a sleep standing in for synchronisation)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll probe until it returns something truthy (returned), or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting until {what}")
        time.sleep(interval)


async def wait_until_async(
    probe: Callable[[], Awaitable[T]], within: float, what: str, interval: float = 0.05
) -> T:
    """wait_until for async probes."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting until {what}")
        await asyncio.sleep(interval)
