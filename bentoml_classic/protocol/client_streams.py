"""The caller's side of streams (``codec``'s docstring has the frames), for both clients.

The async client shares one connection per runner worker between every call and stream of its
process, so a stream's frames are handed to a ``StreamInbox`` as they arrive and wait there for
the stream's consumer. The inbox holds at most ``codec.STREAM_WINDOW`` of them: the runner sends
no more before it gets credit, and credit is handed back only for chunks the consumer has taken.
The blocking client gives each stream a connection of its own (a thread that iterates a stream
may call the runner again inside its loop, and the thread's cached connection must stay free
for that), and reads the stream's frames only as its consumer asks for them.
"""

from __future__ import annotations

import asyncio
from collections import deque

from . import codec


class StreamInbox:
    """The frames of one stream, received and not yet consumed."""

    def __init__(self) -> None:
        self._frames: deque[tuple[int, list[memoryview]]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost: BaseException | None = None

    def deliver(self, kind: int, buffers: list[memoryview]) -> None:
        self._frames.append((kind, buffers))
        self._wake()

    def lose(self, error: BaseException) -> None:
        """The connection is gone: the consumer gets ``error`` once the frames already here
        are taken."""
        self._lost = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_frame(self, timeout: float) -> tuple[int, list[memoryview]]:
        """The next frame; ``TimeoutError`` when none came within ``timeout`` seconds."""
        if not self._frames:
            if self._lost is not None:
                raise self._lost
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            expiry = loop.call_later(timeout, _expire, self._waiter)
            try:
                await self._waiter
            finally:
                expiry.cancel()
                self._waiter = None
            if not self._frames:
                assert self._lost is not None
                raise self._lost
        return self._frames.popleft()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Credit:
    """Counts the chunks a consumer took; says when to hand credit back, and how much."""

    __slots__ = ("_taken",)

    def __init__(self) -> None:
        self._taken = 0

    def take(self) -> int:
        """One more chunk taken: the credit to send now (0: none yet)."""
        self._taken += 1
        if self._taken < codec.CREDIT_EVERY:
            return 0
        taken, self._taken = self._taken, 0
        return taken
