"""Where a runner worker runs its model: one job at a time, without deafening the event loop.

The runner worker's event loop reads frames, answers readiness pings and metrics requests, and
stops the worker on a signal. A model call that ran on the loop thread would stop all of that
for its whole duration: with a model that takes seconds, ``/readyz`` of every API worker turned
503 exactly while the service was busiest. A model call that always ran on another thread would
pay a thread hand-off each time, a visible share of a cheap model's call.

So each method earns its place (``inline_proof.py``, the rule shared with sync API functions):
it runs on the lane's own thread until ``proven_after`` consecutive runs each took at most
``inline_limit_s``, then on the loop thread itself, and back on the thread as soon as one run
takes longer. A run on the loop thread that then hangs would silence the worker's pings
until it replaced itself; a thread of the protocol's stands in for the loop meanwhile
(``protocol/stand_in.py``, by ``inline_since`` and ``inline_lock``). Jobs never overlap,
whichever thread runs them:
a runnable is only ever called from one thread at a time, as if the loop ran them all. It is
not always the same thread, though (classic BentoML runs methods in a thread pool too): a
runnable must not rely on thread-affine state made in ``__init__``, such as an sqlite3
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from ..inline_proof import InlineProof, ProofRule

logger = logging.getLogger(__name__)

#: a model run this short blocks the loop (pings, frames) no longer than a scheduler tick
#: would, and a thread hand-off is a small share of it
MODEL_INLINE_LIMIT_S = 0.005
#: consecutive quick runs before a method runs on the loop thread
MODEL_PROVEN_AFTER = 8

#: what a lane job does once the lane is free: None (nothing left to do), or the work to run
#: (on any thread; must not raise) and what to do with its outcome (on the loop thread)
Prepare = Callable[[], "tuple[Callable[[], Any], Callable[[Any], None]] | None"]


class Lane(Protocol):
    """Where a runner worker's model work runs, one job at a time (``ModelLane`` below)."""

    def submit(self, name: str, prepare: Prepare) -> None: ...


class SameThreadLane:
    """Runs each job at once, on the caller's thread: the lane of the unit tests."""

    def submit(self, name: str, prepare: Prepare) -> None:
        work = prepare()
        if work is not None:
            compute, finish = work
            finish(compute())


_STOP = object()


class ModelLane:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        inline_limit_s: float = MODEL_INLINE_LIMIT_S,
        proven_after: int = MODEL_PROVEN_AFTER,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._loop = loop
        self._rule = ProofRule(inline_limit_s, proven_after)
        self._clock = clock
        self._waiting: deque[tuple[str, Prepare]] = deque()
        self._starting = False  # in _start_next: a job's callbacks must not start another
        self._off_loop = False  # a job runs on the lane's thread
        self._proofs: dict[str, InlineProof] = {}
        self._jobs: queue.SimpleQueue[Any] | None = None
        #: ``time.monotonic()`` when the job that runs now started; None while the lane is idle
        #: (read by the runner worker's stuck-model watch, from another thread)
        self.busy_since: float | None = None
        #: the same, while the job runs on the loop thread (None otherwise). A thread that
        #: stands in for a loop held that way (``protocol/stand_in.py``) holds ``inline_lock``
        #: while it reads the loop's connections; the loop thread clears this when the job
        #: returns, then waits for the lock before it goes on
        self.inline_since: float | None = None
        self.inline_lock = threading.Lock()

    def submit(self, name: str, prepare: Prepare) -> None:
        """Run a job when the lane is free, in the order submitted; from the loop thread only."""
        self._waiting.append((name, prepare))
        if not self._starting and not self._off_loop:
            self._start_next()

    def runs_inline(self, name: str) -> bool:
        return self._proof(name).proven

    def _proof(self, name: str) -> InlineProof:
        proof = self._proofs.get(name)
        if proof is None:
            proof = self._proofs[name] = InlineProof(self._rule)
        return proof

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.put(_STOP)

    def _start_next(self) -> None:
        self._starting = True
        try:
            while self._waiting and not self._off_loop:
                name, prepare = self._waiting.popleft()
                work = prepare()
                if work is None:
                    continue
                compute, finish = work
                if not self.runs_inline(name):
                    self._hand_to_thread(name, compute, finish)
                    continue
                started = self._clock()
                self.busy_since = self.inline_since = time.monotonic()
                outcome = compute()
                self.inline_since = None
                with self.inline_lock:
                    self.busy_since = None
                self._record(name, self._clock() - started, inline=True)
                _finish(finish, outcome)
        finally:
            self._starting = False

    def _hand_to_thread(
        self, name: str, compute: Callable[[], Any], finish: Callable[[Any], None]
    ) -> None:
        if self._jobs is None:
            self._jobs = queue.SimpleQueue()
            threading.Thread(target=self._work, name="model-lane", daemon=True).start()
        self._off_loop = True
        self.busy_since = time.monotonic()
        self._jobs.put((name, compute, finish))

    def _work(self) -> None:
        assert self._jobs is not None
        while (job := self._jobs.get()) is not _STOP:
            name, compute, finish = job
            started = self._clock()
            outcome = compute()
            elapsed = self._clock() - started
            # A loop that closed meanwhile (the worker is exiting) has nobody left to answer.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._landed, name, elapsed, outcome, finish)
            job = compute = finish = outcome = None  # keep nothing alive while idle

    def _landed(
        self, name: str, elapsed: float, outcome: Any, finish: Callable[[Any], None]
    ) -> None:
        self._off_loop = False
        self.busy_since = None
        self._record(name, elapsed, inline=False)
        _finish(finish, outcome)
        self._start_next()

    def _record(self, name: str, elapsed: float, inline: bool) -> None:
        if self._proof(name).observe(elapsed, inline):
            logger.debug("%s took %.1f ms: it runs off the event loop again", name, elapsed * 1e3)


def _finish(finish: Callable[[Any], None], outcome: Any) -> None:
    # Answering a caller must not stop the lane: the jobs behind it would never run.
    try:
        finish(outcome)
    except Exception:
        logger.exception("answering a runner call failed")
