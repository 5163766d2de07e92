"""``batching.inline_batcher``: the runner worker's driver of a batch queue.

It runs inside a small discrete-event simulation: a fake clock, a list standing in for the
event loop's ``call_soon``, a method that advances the clock by its run time, and scripted
arrivals. Arrivals that happen while a batch runs are submitted once it returns, before the
next scheduled drain, as frames read by the event loop would be. The tests assert exact batch
compositions, start times, replies, shedding and expiry, and the histogram.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bentoml_classic.batching.inline_batcher import InlineBatcher
from bentoml_classic.batching.policy import BatchPolicy
from bentoml_classic.exceptions import ServiceUnavailable
from tests.support.batches import policy, segments, tagged
from tests.support.metrics import Recorder
from tests.support.waiting import FakeClock


@dataclass
class Simulation:
    """Scripted arrivals (time, rows) into an InlineBatcher whose method takes ``duration``."""

    policy: BatchPolicy
    arrivals: list[tuple[float, int]]
    duration: float = 1.0
    clock: FakeClock = field(default_factory=FakeClock)
    histogram: Recorder = field(default_factory=Recorder)
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    #: per batch: (start time, its (tag, rows) segments)
    batches: list[tuple[float, list[tuple[int, int]]]] = field(default_factory=list)
    #: per call tag: (time answered, result, error)
    replies: dict[int, tuple[float, Any, BaseException | None]] = field(default_factory=dict)
    reply_order: list[int] = field(default_factory=list)

    def method(self, x: np.ndarray) -> np.ndarray:
        self.batches.append((self.clock.now, segments(x)))
        self.clock.now += self.duration
        return -x

    def run(self) -> Simulation:
        batcher = InlineBatcher(
            self.method,
            self.policy,
            self.callbacks.append,
            clock=self.clock,
            histogram=self.histogram,
        )
        pending = sorted(enumerate(self.arrivals), key=lambda item: item[1][0])
        while True:
            # the event loop reads every frame that arrived before it runs the next callback
            while pending and pending[0][1][0] <= self.clock.now:
                tag, (_, rows) = pending.pop(0)
                batcher.submit((tagged(tag, rows),), {}, self._reply_to(tag))
            # one drain scheduled at a time, however many calls arrived
            assert len(self.callbacks) <= 1
            if self.callbacks:
                self.callbacks.pop(0)()
            elif pending:
                self.clock.now = pending[0][1][0]
            else:
                break
        assert len(self.replies) == len(self.arrivals), "every call is answered exactly once"
        return self

    def _reply_to(self, tag: int) -> Callable[[Any, BaseException | None], None]:
        def reply(result: Any, error: BaseException | None) -> None:
            assert tag not in self.replies, f"call {tag} answered twice"
            self.replies[tag] = (self.clock.now, result, error)
            self.reply_order.append(tag)

        return reply

    def compositions(self) -> list[list[tuple[int, int]]]:
        return [batch for _, batch in self.batches]

    def starts(self) -> list[float]:
        return [start for start, _ in self.batches]

    def assert_own_rows_back(self, tags: list[int]) -> None:
        for tag in tags:
            _, result, error = self.replies[tag]
            assert error is None, f"call {tag} failed: {error!r}"
            np.testing.assert_array_equal(result, -tagged(tag, self.arrivals[tag][1]))


def test_inline_a_lone_call_runs_at_once() -> None:
    sim = Simulation(policy(), [(0.0, 3), (10.0, 2)], duration=1.0).run()
    assert sim.compositions() == [[(0, 3)], [(1, 2)]]
    assert sim.starts() == [0.0, 10.0]  # nothing is held back to fill a batch
    assert sim.replies[0][0] == 1.0
    assert sim.replies[1][0] == 11.0
    sim.assert_own_rows_back([0, 1])


def test_inline_calls_arriving_while_busy_form_the_next_batch() -> None:
    sim = Simulation(policy(), [(0.0, 1), (0.2, 2), (0.5, 1), (0.9, 1)], duration=1.0).run()
    assert sim.compositions() == [[(0, 1)], [(1, 2), (2, 1), (3, 1)]]
    assert sim.starts() == [0.0, 1.0]
    sim.assert_own_rows_back([0, 1, 2, 3])


def test_inline_calls_arriving_together_while_idle_share_a_batch() -> None:
    sim = Simulation(policy(), [(0.0, 1), (0.0, 1), (0.0, 2)]).run()
    assert sim.compositions() == [[(0, 1), (1, 1), (2, 2)]]


def test_inline_batches_are_bounded_by_max_batch_size() -> None:
    arrivals = [(0.0, 1), (0.1, 2), (0.2, 2), (0.3, 1), (0.4, 3), (0.5, 1)]
    sim = Simulation(policy(4), arrivals, duration=1.0).run()
    # while batch 0 runs, 2+2+1+3+1 rows arrive: FIFO prefixes of at most 4 rows follow
    assert sim.compositions() == [[(0, 1)], [(1, 2), (2, 2)], [(3, 1), (4, 3)], [(5, 1)]]
    assert sim.starts() == [0.0, 1.0, 2.0, 3.0]
    assert sim.histogram.count == 4
    sim.assert_own_rows_back(list(range(6)))


def test_inline_each_drain_runs_one_batch_so_late_arrivals_join_the_next() -> None:
    # call 3 arrives while batch [1, 2] runs and joins the batch after it, with call 4
    arrivals = [(0.0, 1), (0.5, 2), (0.6, 2), (1.5, 1), (1.6, 1), (2.5, 1)]
    sim = Simulation(policy(4), arrivals, duration=1.0).run()
    assert sim.compositions() == [[(0, 1)], [(1, 2), (2, 2)], [(3, 1), (4, 1)], [(5, 1)]]


def test_inline_replies_are_fifo_and_each_gets_its_own_rows() -> None:
    arrivals = [(0.0, 2), (0.1, 1), (0.2, 3), (0.3, 1), (0.4, 2)]
    sim = Simulation(policy(4), arrivals, duration=2.0).run()
    assert sim.compositions() == [[(0, 2)], [(1, 1), (2, 3)], [(3, 1), (4, 2)]]
    assert sim.reply_order == [0, 1, 2, 3, 4]
    sim.assert_own_rows_back(list(range(5)))


def test_inline_an_oversized_call_is_split_and_joined_back() -> None:
    sim = Simulation(policy(4), [(0.0, 10), (0.5, 1)], duration=1.0).run()
    assert sim.compositions() == [[(0, 4)], [(0, 4)], [(0, 2), (1, 1)]]
    assert sim.reply_order == [0, 1]
    sim.assert_own_rows_back([0, 1])


def test_inline_incompatible_calls_run_in_separate_batches() -> None:
    clock = FakeClock()
    callbacks: list[Callable[[], None]] = []
    seen: list[np.dtype] = []

    def method(x: np.ndarray) -> np.ndarray:
        seen.append(x.dtype)
        return x

    batcher = InlineBatcher(method, policy(10), callbacks.append, clock=clock)
    replies: list[Any] = []
    for value in (np.zeros(1), np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)):
        batcher.submit((value,), {}, lambda result, error: replies.append((result, error)))
    while callbacks:
        callbacks.pop(0)()
    assert seen == [np.float64, np.int64]
    assert [r[0].tolist() for r in replies] == [[0.0], [0], [1]]


def test_inline_sheds_calls_when_the_queue_is_full() -> None:
    arrivals = [(0.0, 1), (0.1, 2), (0.2, 1), (0.3, 1), (1.5, 1)]
    sim = Simulation(policy(4, max_queue_rows=3), arrivals, duration=1.0).run()
    # call 3 finds 3 rows waiting: refused on arrival, the others run
    _, result, error = sim.replies[3]
    assert result is None
    assert isinstance(error, ServiceUnavailable)
    assert error.status_code == 503
    assert error.retry_after == 1
    assert sim.replies[3][0] == 1.0  # answered when the loop read it, not after a batch
    assert sim.compositions() == [[(0, 1)], [(1, 2), (2, 1)], [(4, 1)]]
    sim.assert_own_rows_back([0, 1, 2, 4])


def test_inline_expires_calls_that_waited_longer_than_max_latency() -> None:
    # Calls 1 and 2 arrive while call 0 runs and are read (queued) at t=3. Call 1 runs from 3
    # to 6; at t=6 call 2 has waited 3 s in the queue, more than 1 s: it is answered with 503.
    # Call 3, read at t=6, runs.
    arrivals = [(0.0, 1), (0.5, 1), (2.5, 1), (5.0, 1)]
    sim = Simulation(policy(1, max_latency_s=1.0), arrivals, duration=3.0).run()
    assert sim.compositions() == [[(0, 1)], [(1, 1)], [(3, 1)]]
    assert sim.starts() == [0.0, 3.0, 6.0]
    when, result, error = sim.replies[2]
    assert when == 6.0
    assert result is None
    assert isinstance(error, ServiceUnavailable)
    assert error.status_code == 503
    assert "waited 3000 ms" in str(error)
    assert "max_latency_ms of 1000" in str(error)
    sim.assert_own_rows_back([0, 1, 3])
    assert sim.reply_order == [0, 1, 2, 3]


def test_inline_latency_counts_from_when_the_loop_reads_the_call() -> None:
    # While a batch runs, frames wait unread; the queue only sees them once the batch returns,
    # so time spent before that does not count against max_latency.
    arrivals = [(0.0, 1), (0.5, 1)]
    sim = Simulation(policy(4, max_latency_s=1.0), arrivals, duration=5.0).run()
    assert sim.compositions() == [[(0, 1)], [(1, 1)]]
    sim.assert_own_rows_back([0, 1])


def keep_in(
    replies: dict[int, tuple[Any, BaseException | None]], tag: int
) -> Callable[[Any, BaseException | None], None]:
    def reply(result: Any, error: BaseException | None) -> None:
        assert tag not in replies, f"call {tag} answered twice"
        replies[tag] = (result, error)

    return reply


def test_inline_a_method_error_reaches_every_call_of_its_batch() -> None:
    callbacks: list[Callable[[], None]] = []
    boom = RuntimeError("boom")
    sizes: list[int] = []

    def method(x: np.ndarray) -> np.ndarray:
        sizes.append(len(x))
        if len(sizes) == 1:
            raise boom
        return x

    batcher = InlineBatcher(method, policy(4), callbacks.append, clock=FakeClock())
    replies: dict[int, tuple[Any, BaseException | None]] = {}
    for tag in range(3):
        batcher.submit((tagged(tag, 1),), {}, keep_in(replies, tag))
    while callbacks:
        callbacks.pop(0)()
    assert sizes == [3]
    assert all(replies[tag] == (None, boom) for tag in range(3))
    batcher.submit((tagged(3, 1),), {}, keep_in(replies, 3))
    callbacks.pop(0)()
    assert replies[3][1] is None
    np.testing.assert_array_equal(replies[3][0], [300])


def test_inline_a_non_batchable_argument_runs_alone_at_once() -> None:
    # as BlockingBatcher and AsyncBatcher do: the same call behaves the same in every topology
    callbacks: list[Callable[[], None]] = []
    batcher = InlineBatcher(lambda x: x * 2, policy(4), callbacks.append, clock=FakeClock())
    replies: list[tuple[Any, BaseException | None]] = []
    batcher.submit(("ab",), {}, lambda r, e: replies.append((r, e)))
    batcher.submit((np.float64(1.5),), {}, lambda r, e: replies.append((r, e)))
    assert callbacks == []  # nothing queued, nothing scheduled
    assert replies == [("abab", None), (3.0, None)]


def test_inline_a_non_batchable_call_that_fails_is_answered_with_its_error() -> None:
    def method(x: Any) -> Any:
        raise KeyError("no such thing")

    batcher = InlineBatcher(method, policy(4), lambda _: None, clock=FakeClock())
    replies: list[tuple[Any, BaseException | None]] = []
    batcher.submit(({"a": 1},), {}, lambda r, e: replies.append((r, e)))
    assert len(replies) == 1
    assert replies[0][0] is None
    assert isinstance(replies[0][1], KeyError)


def test_inline_histogram_records_batch_sizes() -> None:
    arrivals = [(0.0, 1), (0.1, 2), (0.2, 2), (0.3, 3), (5.0, 10)]
    sim = Simulation(policy(4), arrivals, duration=1.0, histogram=Recorder(buckets=(1, 2, 4))).run()
    assert sim.compositions() == [
        [(0, 1)],
        [(1, 2), (2, 2)],
        [(3, 3)],
        [(4, 4)],
        [(4, 4)],
        [(4, 2)],
    ]
    # sizes 1, 4, 3, 4, 4, 2: le=1 once, le=2 once, le=4 four times, none above
    assert sim.histogram.counts == [1, 1, 4, 0]
    assert sim.histogram.count == 6
    assert sim.histogram.total == 18
