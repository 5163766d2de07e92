"""Waiting for something that happens on another thread or process, and a clock moved by hand."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: a generous bound for anything that should happen "soon", on a loaded 2-core machine
WAIT = 10.0


def wait_for(
    condition: Callable[[], object], timeout: float = WAIT, interval: float = 0.01
) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` passes; the last answer, as a bool."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


class FakeClock:
    """A clock the test moves by hand: ``clock.now += 1.5``."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def wait_until(
    condition: Callable[[], object], what: str, timeout: float = WAIT, interval: float = 0.001
) -> None:
    """Poll ``condition`` until it holds; fail the test (not hang) naming ``what`` after
    ``timeout`` seconds."""
    if not wait_for(condition, timeout, interval):
        raise AssertionError(f"timed out waiting until {what}")


async def settle(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    """Let the event loop run until ``condition`` holds; fail the test naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0)
