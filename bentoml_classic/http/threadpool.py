"""A lean thread pool for sync API functions.

anyio's ``to_thread.run_sync`` (what Starlette uses) costs about three times the bare cost of a
thread hop here (capacity limiter, worker bookkeeping, two futures per call); on a cheap model
that is a visible share of the whole request. Work is handed over on a SimpleQueue and the result
comes back with one ``call_soon_threadsafe``; threads start lazily, up to ``max_threads``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = None


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class ThreadPool:
    def __init__(self, max_threads: int = 40, name: str = "api-sync") -> None:
        self._max_threads = max_threads
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for work
        self._queued = 0  # work waiting for a thread
        self._lock = threading.Lock()

    def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        """Run ``func`` in a pool thread (with the caller's context vars); await the result."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        context = contextvars.copy_context()
        with self._lock:
            # Start a thread unless an idle one is left over once the queued work is taken.
            if self._idle <= self._queued and len(self._threads) < self._max_threads:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._queued += 1
        self._queue.put((loop, future, context, func, args, kwargs))
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._queue.get()
            with self._lock:
                self._idle -= 1
                if item is not _STOP:
                    self._queued -= 1
            if item is _STOP:
                return
            self._run(*item)
            item = None  # do not keep the last request's objects alive while idle

    @staticmethod
    def _run(
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        context: contextvars.Context,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        try:
            result, error = context.run(func, *args, **kwargs), None
        except BaseException as exc:
            result, error = None, exc
        # If the loop closed while we worked, nobody awaits this result: keep the thread alive.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, result, error)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)
        self._threads.clear()
