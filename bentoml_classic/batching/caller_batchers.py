"""The API worker's drivers of a ``BatchQueue``: one for threads, one for an event loop.

- ``BlockingBatcher``: sync API code (``runner.x.run``) in an API worker's threads. A caller that
  finds a free slot leads: it sends a batch and, when the answer comes, hands the next batch to
  the first waiting caller (waking a thread that had to wake anyway) before handing out results.
- ``AsyncBatcher``: ``await runner.x.async_run`` on an event loop; a caller that finds a free
  slot runs its batch itself, batches that form behind it run as tasks.

In an API worker the send is one frame to the runner (calls coalesced per worker, so the hop to
the runner is paid once per batch); in ``init_local()`` and ``--development`` it is the method
itself, which makes a single process batch exactly like the production topology.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, cast

from ..exceptions import BentoMLException
from ..metrics.builtin import Observer
from .batch_queue import (
    BatchQueue,
    Call,
    Piece,
    finish_call,
    join_inputs,
    record_outcome,
    run_batch,
)
from .policy import BatchPolicy


def _check_in_flight(policy: BatchPolicy, max_in_flight: int) -> None:
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
    if policy.split_oversized and max_in_flight > 1:
        # The pieces of a split call must run one after another, and the sync lead hand-over
        # relies on a free slot meaning an empty queue.
        raise ValueError("splitting oversized calls needs max_in_flight=1")


def _check_relay(policy: BatchPolicy, histogram: Observer | None, relay: bool) -> None:
    """``relay``: the batcher only coalesces calls for a runner that batches them again.

    That runner counts rows, cuts oversized calls and records batch sizes itself, so a call that
    finds nothing queued and a slot free is sent as it is: not examined, queued or split, and
    never waiting for a loop turn. (On iris at concurrency 1 that machinery was some forty
    Python calls of every request.) A batcher that cuts or counts must look at every call.
    """
    if relay and (policy.split_oversized or histogram is not None):
        raise ValueError("a relaying batcher neither splits calls nor records batch sizes")


class _Waiter:
    """A caller thread parked until its answer, or the lead of a batch, is handed to it."""

    __slots__ = ("_parked", "batch", "error", "result")

    def __init__(self) -> None:
        # A plain lock as a one-shot signal: cheaper than an Event, which wraps a Condition.
        self._parked = threading.Lock()
        self._parked.acquire()
        self.batch: list[Piece] | None = None
        self.result: Any = None
        self.error: BaseException | None = None

    def __call__(self, result: Any, error: BaseException | None) -> None:
        self.result, self.error = result, error
        self._parked.release()

    def lead(self, batch: list[Piece]) -> None:
        self.batch = batch
        self._parked.release()

    def wait(self) -> None:
        self._parked.acquire()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def _sender(batcher: BlockingBatcher | AsyncBatcher, batch: list[Piece]) -> Callable[..., Any]:
    """The batcher's send, told first how long the batch's oldest call has waited when it wants
    to know (an API worker's batcher: the runner then counts ``max_latency_ms`` from there)."""
    if not batcher._sends_waited:
        return batcher._send
    waited = batcher._queue.clock() - batch[0].call.arrived if batch else 0.0
    return partial(batcher._send, waited)


class BlockingBatcher:
    def __init__(
        self,
        send: Callable[..., Any],
        policy: BatchPolicy,
        max_in_flight: int = 1,
        histogram: Observer | None = None,
        sends_waited: bool = False,
        relay: bool = False,
    ) -> None:
        _check_in_flight(policy, max_in_flight)
        _check_relay(policy, histogram, relay)
        self._send = send
        self._sends_waited = sends_waited
        self._relay = relay
        self._policy = policy
        self._max_in_flight = max_in_flight
        self._histogram = histogram
        self._queue = BatchQueue(policy)
        self._in_flight = 0
        self._mutex = threading.Lock()

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._relay:
            with self._mutex:
                lone = not self._queue and self._in_flight < self._max_in_flight
                if lone:
                    self._in_flight += 1
            if lone:
                return self._send_lone(args, kwargs)
        waiter = _Waiter()
        try:
            call = Call(args, kwargs, self._policy.input_dim, waiter)
        except BentoMLException:
            # Not batchable as given: send it alone and let the method's own checks answer.
            return _sender(self, [])(*args, **kwargs)
        batch: list[Piece] | None = None
        expired: list[Call] = []
        with self._mutex:
            self._queue.put(call)  # may raise ServiceUnavailable: nothing is queued then
            if self._in_flight < self._max_in_flight:
                # A free slot means an empty queue but for this call (possibly cut in pieces).
                batch, expired = self._queue.take()
                if batch:
                    self._in_flight += 1
        for late in expired:  # with a tiny max_latency_ms, even this call may have expired
            late.answer(None, late.error)
        if batch == []:
            return waiter.outcome()
        if batch is None:
            waiter.wait()
            if waiter.batch is None:
                return waiter.outcome()
            batch, waiter.batch = waiter.batch, None  # its calls refer back to the waiter
        self._lead(batch, waiter)
        return waiter.outcome()

    def _send_lone(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Send a call that found nothing queued and a slot free, as it is (see ``relay``)."""
        try:
            return _sender(self, [])(*args, **kwargs)
        finally:
            # Callers that queued meanwhile must not hang, whatever the send did.
            with self._mutex:
                following, expired = self._queue.take()
                if not following:
                    self._in_flight -= 1
            if following:
                cast(_Waiter, following[0].call.reply).lead(following)
            for call in expired:
                call.answer(None, call.error)

    def _lead(self, batch: list[Piece], me: _Waiter) -> None:
        """Run batches while the next one starts with a piece of our own call, then hand over."""
        while True:
            if self._histogram is not None:
                self._histogram.observe(sum(piece.rows for piece in batch))
            done: list[Call] = []
            try:
                done = run_batch(_sender(self, batch), batch, self._policy)
            finally:
                # Even if the send blew up beyond Exception, the waiting callers must not hang.
                with self._mutex:
                    following, expired = self._queue.take()
                    if not following:
                        self._in_flight -= 1
                successor = following[0].call.reply if following else None
                if successor is not None and successor is not me:
                    # Keep the runner fed first; this batch's callers are woken right after.
                    cast(_Waiter, successor).lead(following)
                for call in expired:
                    call.answer(None, call.error)
            for call in done:
                call.answer(*finish_call(call, self._policy.output_dim))
            if successor is not me:
                return
            batch = following


class AsyncBatcher:
    def __init__(
        self,
        send: Callable[..., Awaitable[Any]],
        policy: BatchPolicy,
        max_in_flight: int = 1,
        histogram: Observer | None = None,
        sends_waited: bool = False,
        relay: bool = False,
        gathers_turn: bool = False,
    ) -> None:
        """``gathers_turn`` (with ``relay``): a call that finds a slot free holds it until the
        end of the loop turn; the calls the turn brought leave with it in one batch instead of
        a whole round trip behind it, and a call alone in its turn still leaves as it came.
        For callers that come in bursts: the calls of one CALLS frame in a dependency's
        worker (``protocol/call_batches.py``)."""
        _check_in_flight(policy, max_in_flight)
        _check_relay(policy, histogram, relay)
        self._send = send
        self._sends_waited = sends_waited
        self._relay = relay
        self._gathers_turn = gathers_turn
        self._policy = policy
        self._max_in_flight = max_in_flight
        self._histogram = histogram
        self._queue = BatchQueue(policy)
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._relay and not self._queue and self._in_flight < self._max_in_flight:
            if self._gathers_turn:
                return await self._gather_turn(args, kwargs)
            return await self._send_lone(args, kwargs)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def reply(result: Any, error: BaseException | None) -> None:
            if future.done():
                return  # the caller went away (cancelled); nobody waits for this answer
            if isinstance(error, asyncio.CancelledError):
                future.cancel()
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        try:
            call = Call(args, kwargs, self._policy.input_dim, reply)
        except BentoMLException:
            return await _sender(self, [])(*args, **kwargs)
        self._queue.put(call)
        if self._in_flight < self._max_in_flight:
            batch, expired = self._queue.take()
            for late in expired:  # with a tiny max_latency_ms, even this call may have expired
                late.answer(None, late.error)
            if batch:
                self._in_flight += 1
                # A free slot means the batch is this call alone: run it in this task, with no
                # task to create and no loop turn to wait for (what that gained on the async iris
                # example: docs/benchmarks.md). Batches that form meanwhile run as tasks.
                await self._run(batch)
        return await future

    async def _send_lone(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Send a call that found nothing queued and a slot free, as it is (see ``relay``)."""
        self._in_flight += 1
        try:
            return await _sender(self, [])(*args, **kwargs)
        finally:
            self._send_next()  # cancelled or failed too: the calls that queued meanwhile go next

    async def _gather_turn(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Hold the free slot for the rest of this turn (see ``gathers_turn``)."""
        self._in_flight += 1
        try:
            await asyncio.sleep(0)  # the turn's other calls run meanwhile, and queue
        except BaseException:
            self._send_next()  # cancelled while holding the slot: the queued calls take it
            raise
        if not self._queue:
            try:
                return await _sender(self, [])(*args, **kwargs)
            finally:
                self._send_next()
        self._in_flight -= 1
        return await self.call(args, kwargs)  # queued last, it leaves with them, now

    def _send_next(self) -> None:
        """The slot of a finished send: to the next batch if one waits, else freed."""
        following, expired = self._queue.take()
        if following:
            self._start(following)
        else:
            self._in_flight -= 1
        for call in expired:
            call.answer(None, call.error)

    def _start(self, batch: list[Piece]) -> None:
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[Piece]) -> None:
        if self._histogram is not None:
            self._histogram.observe(sum(piece.rows for piece in batch))
        policy = self._policy
        try:
            args, kwargs = join_inputs(batch, policy.input_dim)
            result, error = await _sender(self, batch)(*args, **kwargs), None
        except BaseException as exc:  # cancelled too: every caller must get an answer
            result, error = None, exc
        done = record_outcome(batch, result, error, policy)
        self._send_next()
        for call in done:
            call.answer(*finish_call(call, policy.output_dim))
        if error is not None and not isinstance(error, Exception):
            raise error
