"""The runner worker's driver of a ``BatchQueue``: calls arrive as frames on the event loop.

A batch is taken when the runner's lane (``model_lane.py``) is free and runs on the loop thread
while the method is quick, on the lane's thread once it proved slow. Calls that arrive while a
batch runs join the next one (uvloop, which runner workers use, polls I/O before running the
rescheduled drain; stock asyncio runs it first, so late frames join the batch after). There is
no timer: a lone call runs on the next loop turn.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ..exceptions import BentoMLException
from ..metrics.builtin import Observer
from .batch_queue import BatchQueue, Call, Reply, finish_call, run_batch
from .model_lane import Lane, SameThreadLane
from .policy import BatchPolicy


def call_alone(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``(result, None)`` or ``(None, error)``: lane work must not raise."""
    try:
        return func(*args, **kwargs), None
    except Exception as exc:
        return None, exc


class InlineBatcher:
    def __init__(
        self,
        func: Callable[..., Any],
        policy: BatchPolicy,
        schedule: Callable[[Callable[[], None]], Any],
        clock: Callable[[], float] | None = None,
        histogram: Observer | None = None,
        lane: Lane | None = None,
        name: str = "",
    ) -> None:
        self._func = func
        self._policy = policy
        self._schedule = schedule
        self._queue = BatchQueue(policy, clock) if clock else BatchQueue(policy)
        self._histogram = histogram
        self._lane: Lane = lane or SameThreadLane()
        self._name = name or getattr(func, "__name__", "method")
        #: a drain is scheduled, waiting for the lane, or running
        self._scheduled = False

    def submit(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], reply: Reply, waited: float = 0.0
    ) -> None:
        """Queue a call that has already waited ``waited`` seconds (in the caller's own queue);
        ``reply(result, error)`` is called once, from the loop thread."""
        try:
            call = Call(args, kwargs, self._policy.input_dim, reply)
        except BentoMLException:
            # Not batchable as given (a scalar, a dict, a 0-d array): it runs alone, as the API
            # worker and init_local() treat it, and the method's own checks answer.
            work = (partial(call_alone, self._func, args, kwargs), lambda out: reply(*out))
            self._lane.submit(self._name, lambda: work)
            return
        try:
            self._queue.put(call, waited)
        except BentoMLException as exc:  # the queue is full
            reply(None, exc)
            return
        if not self._scheduled:
            self._scheduled = True
            self._schedule(self._drain)

    def _drain(self) -> None:
        self._lane.submit(self._name, self._take_batch)

    def _take_batch(self) -> tuple[Callable[[], Any], Callable[[Any], None]] | None:
        # Taken when the lane is free, not when the drain was scheduled: calls that arrived
        # while the previous job ran join this batch.
        batch, expired = self._queue.take()
        for call in expired:
            call.answer(None, call.error)
        if not batch:
            self._scheduled = False
            return None
        if self._histogram is not None:
            self._histogram.observe(self._queue.taken_rows)
        return partial(run_batch, self._func, batch, self._policy), self._answer

    def _answer(self, done: list[Call]) -> None:
        for call in done:
            call.answer(*finish_call(call, self._policy.output_dim))
        self._scheduled = False
        if self._queue:
            # Give the loop a turn first: frames that arrived meanwhile join the next batch.
            self._scheduled = True
            self._schedule(self._drain)
