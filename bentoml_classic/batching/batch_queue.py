"""Adaptive batching: the queue, its policy, and running one batch through a method.

The rules (docs/architecture.md, "Batching"):

- strictly FIFO: a batch is a prefix of the queue, and answers go back in the order calls came;
- a batch never holds more than ``max_batch_size`` rows along the method's ``batch_dim``; a
  call larger than that is cut into consecutive pieces that run as (parts of) several batches and
  whose outputs are joined again before the caller sees them (``split_oversized``; otherwise it
  runs whole, alone in its batch);
- nothing is held back to fill a batch: whoever drives the queue takes a batch the moment the
  method is free, so a lone call runs at once and batches form only while the method is busy;
- a call may wait in the queue at most ``max_latency_ms``; one that waited longer is answered
  503 with Retry-After instead of running late (shed on time);
- a queue holds at most ``max_queue_bytes`` of inputs (by default a share of the memory:
  ``memory.py``), and at most ``max_queue_rows`` rows where those are configured; a call that
  would overfill it is answered 503 at once (shed on memory, or on rows). An empty queue takes
  any call, so that every call can run;
- only calls whose values can be joined without changing their meaning share a batch (same
  argument layout, dtypes and trailing shape); a call that differs starts the next batch.

The queue knows nothing about threads, sockets or event loops, and reads time only from the
clock it is given, so tests can script arrivals exactly.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import InvalidArgument, ServiceUnavailable
from . import containers
from .policy import BatchPolicy

#: how a queued call is answered: ``reply(result, None)`` or ``reply(None, error)``, once
Reply = Callable[[Any, BaseException | None], None]


class Call:
    """One caller's call to a batchable method while it is queued or running."""

    __slots__ = (
        "args",
        "arrived",
        "error",
        "key",
        "kwargs",
        "nbytes",
        "outputs",
        "remaining",
        "reply",
        "rows",
    )

    def __init__(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        dim: int,
        reply: Reply | None = None,
    ) -> None:
        values = [*args, *kwargs.values()]
        if not values:
            raise InvalidArgument("a batchable runner method needs at least one argument to batch")
        counts = [containers.rows(value, dim) for value in values]
        if len(set(counts)) != 1:
            raise InvalidArgument(
                f"the arguments of a batchable runner method must have the same number of rows "
                f"along batch_dim {dim}; got {counts}"
            )
        self.args = args
        self.kwargs = kwargs
        self.rows = counts[0]
        self.key: Hashable = (
            len(args),
            tuple(kwargs),
            tuple(containers.signature(value, dim) for value in values),
        )
        self.reply = reply
        #: bytes counted against the queue's memory bound: measured only when the queue holds
        #: something already (a lone call is never refused, so it is not measured)
        self.nbytes = 0
        self.arrived = 0.0
        self.remaining = 0
        self.outputs: list[Any] = []
        self.error: BaseException | None = None

    def measure(self) -> int:
        """The bytes of the call's values (``containers.nbytes``), recorded in ``nbytes``."""
        values = [*self.args, *self.kwargs.values()]
        self.nbytes = sum(containers.nbytes(value) for value in values)
        return self.nbytes

    def answer(self, result: Any, error: BaseException | None) -> None:
        """Hand the caller its outcome (the call was made with a ``reply``)."""
        assert self.reply is not None
        self.reply(result, error)

    def finish_piece(self, start: int, output: Any, error: BaseException | None) -> bool:
        """Record the outcome of the piece starting at row ``start``; True once all have one."""
        if error is not None and self.error is None:
            self.error = error
        self.outputs.append((start, output))
        self.remaining -= 1
        return self.remaining == 0

    def result(self, dim: int) -> Any:
        """The call's output, its pieces joined; raises the first error any piece met."""
        if self.error is not None:
            raise self.error
        if len(self.outputs) == 1:
            return self.outputs[0][1]
        return join_outputs([output for _, output in sorted(self.outputs, key=_first)], dim)


def _first(pair: tuple[int, Any]) -> int:
    return pair[0]


@dataclass(slots=True)
class Piece:
    """Rows ``start:stop`` of a call: the whole call unless it was larger than a batch."""

    call: Call
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.stop == self.call.rows

    def values(self, dim: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
        call = self.call
        if self.whole:
            return call.args, call.kwargs
        args = tuple(containers.take(v, self.start, self.stop, dim) for v in call.args)
        kwargs = {k: containers.take(v, self.start, self.stop, dim) for k, v in call.kwargs.items()}
        return args, kwargs


# Each 503 names the bound that refused the call: rows, memory or time. The memory bound's
# figures stay out of the message: by default they tell how much memory the machine has.


def queue_full(rows: int, limit: int) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"the runner's batching queue is full ({rows} rows waiting, limit {limit}, "
        "runners.batching.max_queue_size); retry shortly"
    )


def queue_out_of_memory() -> ServiceUnavailable:
    return ServiceUnavailable(
        "the runner's batching queue is full: the inputs waiting in it would exceed its memory "
        "bound (runners.batching.max_queue_bytes); retry shortly"
    )


def waited_too_long(call: Call, now: float, limit: float) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"the runner is too busy to answer in time: the call waited "
        f"{1000 * (now - call.arrived):.0f} ms for it, more than its max_latency_ms of "
        f"{1000 * limit:g}; retry shortly"
    )


class BatchQueue:
    def __init__(self, policy: BatchPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self._pieces: deque[Piece] = deque()
        self.rows_waiting = 0
        #: bytes of the calls not yet wholly taken (see ``Call.nbytes``)
        self.bytes_waiting = 0
        #: rows of the last batch taken (a batch-size histogram records them)
        self.taken_rows = 0
        #: no queued call arrived before this: while it is recent, no call can have expired
        self._earliest_arrival = math.inf

    def __bool__(self) -> bool:
        return bool(self._pieces)

    def __len__(self) -> int:
        return len(self._pieces)

    def put(self, call: Call, waited: float = 0.0) -> None:
        """Queue ``call``, or raise ServiceUnavailable when that would overfill the queue.

        An empty queue takes any call, however large, so that every call can run eventually
        (and a lone call costs no measuring). ``waited``: how long the call has already waited
        elsewhere (an API worker's own queue), which counts against ``max_latency_ms`` here too.
        """
        if self._pieces:
            self._admit(call)
        call.arrived = self.clock() - waited
        if call.arrived < self._earliest_arrival:
            self._earliest_arrival = call.arrived
        size = self.policy.max_batch_size
        if call.rows <= size or not self.policy.split_oversized:
            self._pieces.append(Piece(call, 0, call.rows))
            call.remaining = 1
        else:
            starts = range(0, call.rows, size)
            self._pieces.extend(Piece(call, s, min(s + size, call.rows)) for s in starts)
            call.remaining = len(starts)
        self.rows_waiting += call.rows
        self.bytes_waiting += call.nbytes

    def _admit(self, call: Call) -> None:
        """Raise ServiceUnavailable if ``call`` would overfill a queue that holds something."""
        policy = self.policy
        rows_limit = policy.max_queue_rows
        if rows_limit is not None and self.rows_waiting + call.rows > rows_limit:
            raise queue_full(self.rows_waiting, rows_limit)
        bytes_limit = policy.max_queue_bytes
        if bytes_limit is not None and self.bytes_waiting + call.measure() > bytes_limit:
            raise queue_out_of_memory()

    def take(self) -> tuple[list[Piece], list[Call]]:
        """The next batch (possibly empty), and the calls that waited too long to run at all."""
        expired = self._expire()
        if not self._pieces:
            self._earliest_arrival = math.inf
            return [], expired
        first = self._pieces.popleft()
        batch = [first]
        rows = first.rows
        freed = first.call.nbytes if first.stop == first.call.rows else 0
        size = self.policy.max_batch_size
        while self._pieces:
            piece = self._pieces[0]
            if piece.call.key != first.call.key or rows + piece.rows > size:
                break
            batch.append(self._pieces.popleft())
            rows += piece.rows
            if piece.stop == piece.call.rows:  # the call's last piece: its bytes leave the queue
                freed += piece.call.nbytes
        self.rows_waiting -= rows
        self.bytes_waiting -= freed
        self.taken_rows = rows
        return batch, expired

    def _expire(self) -> list[Call]:
        limit = self.policy.max_latency_s
        if limit is None or not self._pieces:
            return []
        now = self.clock()
        if now - self._earliest_arrival <= limit:
            return []  # the usual case: a look at one number instead of every queued call
        # Every queued call is looked at, not only the front: a call that had already waited in
        # an API worker's queue counts from then, so arrivals are not in queue order. A call
        # whose first piece has run is finished rather than its work wasted.
        late = {
            id(piece.call): piece.call
            for piece in self._pieces
            if piece.start == 0 and now - piece.call.arrived > limit
        }
        self._earliest_arrival = min(
            (
                piece.call.arrived
                for piece in self._pieces
                if piece.start == 0 and id(piece.call) not in late
            ),
            default=math.inf,
        )
        if not late:
            return []
        self._pieces = deque(piece for piece in self._pieces if id(piece.call) not in late)
        for call in late.values():
            self.rows_waiting -= call.rows
            self.bytes_waiting -= call.nbytes
            call.error = waited_too_long(call, now, limit)
        return list(late.values())


def join_inputs(pieces: Sequence[Piece], dim: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if len(pieces) == 1:
        return pieces[0].values(dim)
    parts = [piece.values(dim) for piece in pieces]
    first_args, first_kwargs = parts[0]
    args = tuple(containers.concat([p[0][i] for p in parts], dim) for i in range(len(first_args)))
    kwargs = {name: containers.concat([p[1][name] for p in parts], dim) for name in first_kwargs}
    return args, kwargs


def split_output(result: Any, sizes: Sequence[int], dim: int) -> list[Any]:
    """One output per piece; a tuple result is split element by element into tuples."""
    if isinstance(result, tuple):
        columns = [containers.split(item, sizes, dim) for item in result]
        return [tuple(column[i] for column in columns) for i in range(len(sizes))]
    return containers.split(result, sizes, dim)


def join_outputs(outputs: Sequence[Any], dim: int) -> Any:
    first = outputs[0]
    if isinstance(first, tuple):
        return tuple(containers.concat([out[i] for out in outputs], dim) for i in range(len(first)))
    return containers.concat(outputs, dim)


def run_batch(func: Callable[..., Any], batch: Sequence[Piece], policy: BatchPolicy) -> list[Call]:
    """Run one batch through ``func``; returns the calls it completed (outcomes recorded)."""
    try:
        args, kwargs = join_inputs(batch, policy.input_dim)
        result = func(*args, **kwargs)
    except BaseException as exc:
        # Beyond Exception too (KeyboardInterrupt, SystemExit): every caller must get an answer.
        return record_outcome(batch, None, exc, policy)
    return record_outcome(batch, result, None, policy)


def record_outcome(
    batch: Sequence[Piece], result: Any, error: BaseException | None, policy: BatchPolicy
) -> list[Call]:
    """Hand each piece its share of a batch's result; returns the calls now complete."""
    if error is None:
        try:
            outputs = split_output(result, [piece.rows for piece in batch], policy.output_dim)
        except Exception as exc:
            error = exc
    if error is not None:
        return [piece.call for piece in batch if piece.call.finish_piece(piece.start, None, error)]
    return [
        piece.call
        for piece, output in zip(batch, outputs, strict=True)
        if piece.call.finish_piece(piece.start, output, None)
    ]


def finish_call(call: Call, dim: int) -> tuple[Any, BaseException | None]:
    """The (result, error) pair to answer a completed call with."""
    try:
        return call.result(dim), None
    except BaseException as exc:
        return None, exc
