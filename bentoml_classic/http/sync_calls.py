"""Where a sync API function runs: a pool thread, or the event loop thread when nothing waits.

A sync API function runs in a pool thread so that it may block without stopping the worker's
event loop. The hand-off there and back costs two thread wake-ups, a visible share of a
cheap request at concurrency 1 (figures: docs/benchmarks.md).

So a sync function runs on the loop thread itself while both of these hold:

- it is the only request the worker has in progress. uvicorn counts a request from the moment
  its headers are read, before its handler starts, so requests that arrive while an inline call
  runs are counted by the time their handlers start: they go to the pool, and load is never
  served one request at a time;
- it has proved quick (``inline_proof.py``, the rule shared with the runner's model lane):
  ``proven_after`` pool runs in a row, each within ``inline_limit_s``. An inline run over
  ``stall_limit_s`` sends it back to the pool and doubles the quick runs it needs to come back
  (up to ``MAX_PROVEN_AFTER``), so a function that sometimes blocks stalls the loop a few
  times, then rarely.

It runs in a greenlet (``inline_greenlet.py``): when its runner call has had no answer for
a moment, the blocking client gives the loop back until the answer comes, so a runner that is
slow or hangs does not hold the worker's probes. Requests that arrive meanwhile see a request
in progress and go to the pool; so does any other sync call while this one waits, since the
blocking client keeps one connection per thread.

While it runs inline the running loop is hidden, so that code looking for one behaves as it
does in a thread (``asyncio.run()`` works; a runner's ``run()`` does not warn about blocking the
loop). Code that waits for this worker's own event loop (``run_coroutine_threadsafe(coro,
loop).result()``) would wait forever there: ``api_server.inline_sync_apis: false`` keeps every
sync call in the pool, and ``InlineWatch`` names a function that holds the loop thread for long
in the log.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ..inline_greenlet import inline_in_progress, run_inline
from ..inline_proof import InlineProof, ProofRule
from .threadpool import ThreadPool

logger = logging.getLogger(__name__)

#: a pool run this short counts towards running inline: below it, the two thread wake-ups of
#: the pool are a visible share of the call, and an inline run delays little behind it
INLINE_LIMIT_S = 0.002
#: consecutive quick pool runs before a function runs on the loop thread
PROVEN_AFTER = 8
#: an inline run longer than this sends the function back to the pool. Well above
#: ``INLINE_LIMIT_S``: on a shared VM a quick call now and then takes a few times its usual
#: length for reasons of the machine's, and those must not send a quick function back
STALL_LIMIT_S = 0.02
#: the most quick runs ever demanded, however often a function was sent back to the pool
MAX_PROVEN_AFTER = 1024
#: an inline call still running after this long is reported in the log
REPORT_AFTER_S = 10.0
#: ASGI scope key under which the server (``http_protocol.py``) puts its set of request tasks;
#: uvicorn adds a request's task when its headers are read and drops it when it is answered
REQUEST_TASKS = "bentoml_classic.request_tasks"


def is_lone_request(scope: Any) -> bool:
    """True when the server says this is its only request in progress; False when it cannot tell
    (another ASGI server, a test client)."""
    tasks = scope.get(REQUEST_TASKS)
    return tasks is not None and len(tasks) <= 1


class InlineWatch:
    """Reports inline calls that have held their event loop thread for long; one thread each.

    Nothing can interrupt a sync function on the loop thread, and while it runs its worker
    answers nothing, probes included. A function that proved quick and then never returns most
    likely waits for that very loop; the log line names it and the way out. The thread starts
    with the first inline call and looks once every ``interval_s``.
    """

    def __init__(self, report_after_s: float = REPORT_AFTER_S, interval_s: float = 1.0) -> None:
        self.report_after_s = report_after_s
        self._interval_s = interval_s
        self._callers: weakref.WeakSet[SyncCaller] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, caller: SyncCaller) -> None:
        with self._lock:
            self._callers.add(caller)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="inline-watch", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._interval_s)
            now = time.monotonic()
            with self._lock:
                callers = list(self._callers)
            for caller in callers:
                since = caller.inline_since
                if since is None or now - since < self.report_after_s or caller.reported == since:
                    continue
                caller.reported = since
                logger.error(
                    "sync API %r has held this worker's event loop thread for %.0f s, so the "
                    "worker answers nothing else, probes included. If it waits for this "
                    "worker's event loop (run_coroutine_threadsafe(...).result()), it never "
                    "returns there: set api_server.inline_sync_apis=false",
                    caller.name,
                    now - since,
                )


#: the process's watch, shared by every SyncCaller that is not given one
default_watch = InlineWatch()


class SyncCaller:
    """Runs one sync API function, in the pool or inline; one per API."""

    def __init__(
        self,
        pool: ThreadPool,
        *,
        name: str = "",
        watch: InlineWatch = default_watch,
        inline_allowed: bool = True,
        inline_limit_s: float = INLINE_LIMIT_S,
        stall_limit_s: float = STALL_LIMIT_S,
        proven_after: int = PROVEN_AFTER,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._pool = pool
        self.name = name
        self._watch = watch
        self._watched = False
        #: monotonic time at which the running inline call started; None when none runs
        self.inline_since: float | None = None
        #: the inline_since that was reported, so that each stuck call is reported once
        self.reported: float | None = None
        self._inline_allowed = inline_allowed
        self._proof = InlineProof(
            ProofRule(inline_limit_s, proven_after, stall_limit_s, MAX_PROVEN_AFTER)
        )
        self._clock = clock

    @property
    def proven(self) -> bool:
        """Whether a lone call would run inline now."""
        return self._inline_allowed and self._proof.proven

    async def call(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], lone: bool
    ) -> Any:
        """``func(*args, **kwargs)``; ``lone``: no other request is in progress in this worker."""
        if lone and self.proven and not inline_in_progress():
            return await self._call_inline(func, args, kwargs)
        started = self._clock()
        try:
            return await self._pool.run(func, *args, **kwargs)
        finally:
            self._proof.observe(self._clock() - started, inline=False)

    async def _call_inline(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not self._watched:
            self._watched = True
            self._watch.watch(self)
        started = self._clock()
        try:
            return await run_inline(func, args, kwargs, self._entered, self._left)
        finally:
            self._proof.observe(self._clock() - started, inline=True)

    def _entered(self) -> None:
        self.inline_since = time.monotonic()

    def _left(self) -> None:
        self.inline_since = None
