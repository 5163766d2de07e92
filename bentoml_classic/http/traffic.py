"""``api_server.traffic``: how many API requests an API worker takes at once, and for how long.

- ``max_concurrency``: an API request beyond that many in progress in this worker is answered
  at once with 429 and Retry-After, rather than queued behind work the worker cannot finish in
  time. Probes, ``/metrics`` and ``/docs.json`` are not counted: a busy worker must still say it
  is alive.
- ``timeout``: an API request still unanswered after that many seconds is answered 504. The
  handler's task is cancelled: an async function sees ``CancelledError`` at its next ``await``;
  a sync function in the pool runs to its end in its thread, and its result is dropped. A sync
  function running inline on the loop thread (``sync_calls.py``, only ever one that proved
  quick) cannot be interrupted, and no deadline is checked while it runs: if it turns slow, its
  answer goes out late instead of as a 504.

Deadlines are checked by one timer per worker, every ``timeout / 10`` seconds (at most every
second), rather than a timer per request: arming and cancelling one per request is a visible
share of a cheap request, and a timeout of a minute does not need millisecond precision.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..exceptions import GatewayTimeout, TooManyRequests


class TrafficControl:
    def __init__(
        self,
        timeout_s: float,
        max_concurrency: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_concurrency = max_concurrency
        self._clock = clock
        self._tick_s = min(1.0, timeout_s / 10)
        self._deadlines: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def too_many(self) -> TooManyRequests | None:
        """The error to answer a new request with when the worker is full, else None."""
        limit = self.max_concurrency
        if limit is None or len(self._deadlines) < limit:
            return None
        return TooManyRequests(
            f"this API worker is serving its limit of {limit} requests "
            "(api_server.traffic.max_concurrency); retry shortly",
            detail={"max_concurrency": limit},
        )

    def enter(self, task: asyncio.Task[object]) -> None:
        self._deadlines[task] = self._clock() + self.timeout_s
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._tick_s, self._sweep)

    def expired(self, task: asyncio.Task[object]) -> bool:
        """Whether ``task`` was cancelled because its deadline passed."""
        return task in self._expired

    def leave(self, task: asyncio.Task[object]) -> None:
        del self._deadlines[task]
        self._expired.discard(task)

    def timed_out(self, api_name: str) -> GatewayTimeout:
        return GatewayTimeout(
            f"API {api_name!r} did not answer within {self.timeout_s:g} s "
            "(api_server.traffic.timeout)",
            detail={"timeout": self.timeout_s},
        )

    def _sweep(self) -> None:
        now = self._clock()
        for task, deadline in list(self._deadlines.items()):
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        self._timer = (
            asyncio.get_running_loop().call_later(self._tick_s, self._sweep)
            if self._deadlines
            else None
        )
