"""``runner.batcher``: the three drivers of a batch queue, and batching through ``init_local()``.

- ``InlineBatcher`` runs inside a small discrete-event simulation: a fake clock, a list standing
  in for the event loop's ``call_soon``, a method that advances the clock by its run time, and
  scripted arrivals. Arrivals that happen while a batch runs are submitted once it returns,
  before the next scheduled drain, as frames read by the event loop would be. The tests assert
  exact batch compositions, start times, replies, shedding and expiry, and the histogram.
- ``BlockingBatcher`` with real threads: a send held on an event lets other callers queue up
  (observed through the queue's length, with a deadline), then is released.
- ``AsyncBatcher`` with ``asyncio.run`` and a send held on an ``asyncio.Event``.
- ``Runner.init_local()``: concurrent ``run``/``async_run`` calls of a batchable method batch.

Nothing here sleeps to synchronise: threads are joined with timeouts and waits poll a condition
under a deadline.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from bentoml_classic import metrics
from bentoml_classic.config import load_config
from bentoml_classic.exceptions import ServiceUnavailable
from bentoml_classic.metrics import Histogram
from bentoml_classic.runner import Runnable, Runner
from bentoml_classic.runner.batcher import AsyncBatcher, BlockingBatcher, InlineBatcher
from bentoml_classic.runner.batching import BatchPolicy

TIMEOUT = 5.0


def tagged(tag: int, rows: int) -> np.ndarray:
    """``rows`` values that name their call: tag 3 with 2 rows is [300, 301]."""
    return tag * 100 + np.arange(rows)


def segments(batch: np.ndarray) -> list[tuple[int, int]]:
    """A joined batch of tagged arrays as (tag, rows) per run of equal tags."""
    result: list[tuple[int, int]] = []
    for value in batch.tolist():
        tag = int(value) // 100
        if result and result[-1][0] == tag:
            result[-1] = (tag, result[-1][1] + 1)
        else:
            result.append((tag, 1))
    return result


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail (not hang) after TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.001)


# --- InlineBatcher in a discrete-event simulation --------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Simulation:
    """Scripted arrivals (time, rows) into an InlineBatcher whose method takes ``duration``."""

    policy: BatchPolicy
    arrivals: list[tuple[float, int]]
    duration: float = 1.0
    clock: FakeClock = field(default_factory=FakeClock)
    histogram: Histogram = field(default_factory=Histogram)
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


def policy(max_batch_size: int = 4, **options: Any) -> BatchPolicy:
    return BatchPolicy(max_batch_size=max_batch_size, **options)


#: Both ways an API-side batcher is built: one that counts and may cut every call (a runner's
#: init_local()), and one that relays to a runner that batches again (an API worker's), where a
#: call that finds nothing queued and a slot free is sent unexamined. They must behave alike.
BOTH_MODES = pytest.mark.parametrize("relay", [False, True], ids=["counting", "relaying"])


def build(batcher_class: type, send: Any, relay: bool, size: int = 4, **options: Any) -> Any:
    if relay:
        unsplit = policy(size, split_oversized=False, **options)
        return batcher_class(send, unsplit, relay=True)
    return batcher_class(send, policy(size, **options))


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
    sim = Simulation(
        policy(4), arrivals, duration=1.0, histogram=Histogram(buckets=(1, 2, 4))
    ).run()
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


# --- BlockingBatcher with threads ------------------------------------------------------------


class HeldSend:
    """A send that records each batch and holds the first ``held`` sends until released."""

    def __init__(self, held: int = 1, fail_on: int | None = None) -> None:
        self.held = held
        self.fail_on = fail_on
        self.release = threading.Event()
        self.batches: list[list[tuple[int, int]]] = []
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            self.batches.append(segments(x))
            number = len(self.batches)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            if number <= self.held:
                assert self.release.wait(TIMEOUT), "the test never released the send"
            if number == self.fail_on:
                raise ValueError(f"send {number} failed")
            return -x
        finally:
            with self._lock:
                self.running -= 1


class Caller(threading.Thread):
    """A thread that calls the batcher once and keeps the outcome."""

    def __init__(self, batcher: BlockingBatcher, value: Any) -> None:
        super().__init__(daemon=True)
        self.batcher = batcher
        self.value = value
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.batcher.call((self.value,), {})
        except BaseException as exc:
            self.error = exc

    def outcome(self) -> Any:
        self.join(TIMEOUT)
        assert not self.is_alive(), "the caller is still blocked"
        if self.error is not None:
            raise self.error
        return self.result


def start_queued(batcher: BlockingBatcher, values: list[Any]) -> list[Caller]:
    """Start one caller per value, each only once the previous one is queued (fixes FIFO)."""
    callers = []
    for value in values:
        before = len(batcher._queue)
        caller = Caller(batcher, value)
        caller.start()
        callers.append(caller)
        wait_until(lambda before=before: len(batcher._queue) > before, "a caller is queued")
    return callers


def start_leader(batcher: BlockingBatcher, send: HeldSend, value: Any) -> Caller:
    sends_before = len(send.batches)
    leader = Caller(batcher, value)
    leader.start()
    wait_until(lambda: len(send.batches) > sends_before, "the leader is sending")
    return leader


@pytest.mark.parametrize("n", [1, 3, 4])
def test_blocking_callers_queued_behind_a_send_go_in_one_batch(n: int) -> None:
    send = HeldSend()
    histogram = Histogram()
    batcher = BlockingBatcher(send, policy(4), histogram=histogram)
    leader = start_leader(batcher, send, tagged(0, 1))
    assert batcher._in_flight == 1
    callers = start_queued(batcher, [tagged(tag, 1) for tag in range(1, n + 1)])
    assert len(send.batches) == 1  # nobody else sent while the first send is held
    send.release.set()
    np.testing.assert_array_equal(leader.outcome(), -tagged(0, 1))
    for tag, caller in enumerate(callers, start=1):
        np.testing.assert_array_equal(caller.outcome(), -tagged(tag, 1))
    assert send.batches == [[(0, 1)], [(tag, 1) for tag in range(1, n + 1)]]
    assert batcher._in_flight == 0
    assert len(batcher._queue) == 0
    assert histogram.count == 2
    assert histogram.total == 1 + n


@BOTH_MODES
def test_blocking_more_queued_rows_than_a_batch_go_in_several_batches(relay: bool) -> None:
    send = HeldSend()
    batcher = build(BlockingBatcher, send, relay)
    leader = start_leader(batcher, send, tagged(0, 1))
    callers = start_queued(batcher, [tagged(1, 2), tagged(2, 1), tagged(3, 3), tagged(4, 1)])
    send.release.set()
    leader.outcome()
    for tag, caller in enumerate(callers, start=1):
        np.testing.assert_array_equal(caller.outcome(), -tagged(tag, len(caller.value)))
    assert send.batches == [[(0, 1)], [(1, 2), (2, 1)], [(3, 3), (4, 1)]]
    assert batcher._in_flight == 0


@BOTH_MODES
def test_blocking_a_lone_call_sends_at_once(relay: bool) -> None:
    send = HeldSend(held=0)
    batcher = build(BlockingBatcher, send, relay)
    np.testing.assert_array_equal(batcher.call((tagged(0, 2),), {}), -tagged(0, 2))
    np.testing.assert_array_equal(batcher.call((tagged(1, 3),), {}), -tagged(1, 3))
    assert send.batches == [[(0, 2)], [(1, 3)]]
    assert batcher._in_flight == 0


def test_blocking_max_in_flight_two_runs_two_sends_at_once() -> None:
    send = HeldSend(held=2)
    batcher = BlockingBatcher(send, policy(4, split_oversized=False), max_in_flight=2)
    first = start_leader(batcher, send, tagged(0, 1))
    second = start_leader(batcher, send, tagged(1, 1))
    assert send.running == 2
    assert batcher._in_flight == 2
    queued = start_queued(batcher, [tagged(2, 1), tagged(3, 1)])
    send.release.set()
    for tag, caller in enumerate([first, second, *queued]):
        np.testing.assert_array_equal(caller.outcome(), -tagged(tag, 1))
    assert send.most_running == 2
    assert send.batches[:2] in ([[(0, 1)], [(1, 1)]], [[(1, 1)], [(0, 1)]])
    assert send.batches[2:] == [[(2, 1), (3, 1)]]
    assert batcher._in_flight == 0


@BOTH_MODES
def test_blocking_max_in_flight_one_never_overlaps_sends(relay: bool) -> None:
    send = HeldSend()
    batcher = build(BlockingBatcher, send, relay, 2)
    leader = start_leader(batcher, send, tagged(0, 1))
    callers = start_queued(batcher, [tagged(tag, 1) for tag in range(1, 6)])
    send.release.set()
    for caller in [leader, *callers]:
        caller.outcome()
    assert send.most_running == 1
    assert send.batches == [[(0, 1)], [(1, 1), (2, 1)], [(3, 1), (4, 1)], [(5, 1)]]


@BOTH_MODES
def test_blocking_an_exception_in_send_reaches_every_caller_of_that_batch(relay: bool) -> None:
    send = HeldSend(fail_on=2)
    batcher = build(BlockingBatcher, send, relay)
    leader = start_leader(batcher, send, tagged(0, 1))
    callers = start_queued(batcher, [tagged(tag, 1) for tag in (1, 2, 3)])
    send.release.set()
    np.testing.assert_array_equal(leader.outcome(), -tagged(0, 1))
    errors = []
    for caller in callers:
        with pytest.raises(ValueError, match="send 2 failed"):
            caller.outcome()
        errors.append(caller.error)
    assert errors[0] is errors[1] is errors[2]
    assert batcher._in_flight == 0
    # later calls still work
    np.testing.assert_array_equal(batcher.call((tagged(4, 2),), {}), -tagged(4, 2))
    assert send.batches[-1] == [(4, 2)]


@BOTH_MODES
def test_blocking_a_failing_lead_send_still_hands_over_to_the_queue(relay: bool) -> None:
    send = HeldSend(fail_on=1)
    batcher = build(BlockingBatcher, send, relay)
    leader = start_leader(batcher, send, tagged(0, 1))
    callers = start_queued(batcher, [tagged(1, 1), tagged(2, 1)])
    send.release.set()
    with pytest.raises(ValueError, match="send 1 failed"):
        leader.outcome()
    for tag, caller in enumerate(callers, start=1):
        np.testing.assert_array_equal(caller.outcome(), -tagged(tag, 1))
    assert batcher._in_flight == 0


class Abort(BaseException):
    """Something beyond Exception, like KeyboardInterrupt or SystemExit."""


@BOTH_MODES
def test_blocking_a_base_exception_in_send_does_not_leave_callers_hanging(relay: bool) -> None:
    releases = threading.Event()
    sends: list[list[tuple[int, int]]] = []

    def send(x: np.ndarray) -> np.ndarray:
        sends.append(segments(x))
        if len(sends) == 1:
            assert releases.wait(TIMEOUT)
            return -x
        raise Abort("interrupted")

    batcher = build(BlockingBatcher, send, relay)
    leader = Caller(batcher, tagged(0, 1))
    leader.start()
    wait_until(lambda: len(sends) == 1, "the leader is sending")
    callers = start_queued(batcher, [tagged(1, 1), tagged(2, 1)])
    releases.set()
    leader.outcome()
    for caller in callers:
        caller.join(2.0)
    assert sends == [[(0, 1)], [(1, 1), (2, 1)]]
    hanging = [caller.value.tolist() for caller in callers if caller.is_alive()]
    assert hanging == [], "callers of the aborted batch are still waiting for an answer"
    assert all(isinstance(caller.error, BaseException) for caller in callers)
    assert batcher._in_flight == 0


@BOTH_MODES
def test_blocking_a_non_batchable_argument_bypasses_batching(relay: bool) -> None:
    calls: list[Any] = []

    def send(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return "direct"

    batcher = build(BlockingBatcher, send, relay)
    assert batcher.call((5,), {}) == "direct"
    assert batcher.call((np.zeros(2),), {"mask": [1, 2, 3]}) == "direct"  # row counts differ
    assert calls[0] == ((5,), {})
    assert len(calls) == 2
    assert batcher._in_flight == 0
    assert len(batcher._queue) == 0


def test_blocking_an_oversized_call_is_sent_in_pieces_and_joined() -> None:
    send = HeldSend(held=0)
    histogram = Histogram()
    batcher = BlockingBatcher(send, policy(4), histogram=histogram)
    result = batcher.call((tagged(0, 10),), {})
    np.testing.assert_array_equal(result, -tagged(0, 10))
    assert send.batches == [[(0, 4)], [(0, 4)], [(0, 2)]]
    assert histogram.count == 3
    assert batcher._in_flight == 0


def test_blocking_a_caller_queued_behind_an_oversized_call_joins_its_last_piece() -> None:
    send = HeldSend()
    batcher = BlockingBatcher(send, policy(4))
    leader = start_leader(batcher, send, tagged(0, 10))
    (caller,) = start_queued(batcher, [tagged(1, 1)])
    send.release.set()
    np.testing.assert_array_equal(leader.outcome(), -tagged(0, 10))
    np.testing.assert_array_equal(caller.outcome(), -tagged(1, 1))
    assert send.batches == [[(0, 4)], [(0, 4)], [(0, 2), (1, 1)]]


def test_blocking_an_oversized_call_handed_over_to_a_waiting_caller() -> None:
    send = HeldSend()
    batcher = BlockingBatcher(send, policy(4))
    leader = start_leader(batcher, send, tagged(0, 1))
    big, small = start_queued(batcher, [tagged(1, 9), tagged(2, 1)])
    send.release.set()
    leader.outcome()
    np.testing.assert_array_equal(big.outcome(), -tagged(1, 9))
    np.testing.assert_array_equal(small.outcome(), -tagged(2, 1))
    assert send.batches == [[(0, 1)], [(1, 4)], [(1, 4)], [(1, 1), (2, 1)]]
    assert batcher._in_flight == 0


@BOTH_MODES
def test_blocking_a_full_queue_refuses_the_call_at_once(relay: bool) -> None:
    send = HeldSend()
    batcher = build(BlockingBatcher, send, relay, max_queue_rows=2)
    leader = start_leader(batcher, send, tagged(0, 1))
    (queued,) = start_queued(batcher, [tagged(1, 2)])
    with pytest.raises(ServiceUnavailable) as info:
        batcher.call((tagged(2, 1),), {})
    assert info.value.retry_after == 1
    send.release.set()
    leader.outcome()
    np.testing.assert_array_equal(queued.outcome(), -tagged(1, 2))
    assert send.batches == [[(0, 1)], [(1, 2)]]
    assert batcher._in_flight == 0


@BOTH_MODES
def test_blocking_a_caller_that_waited_too_long_gets_503(relay: bool) -> None:
    send = HeldSend()
    batcher = build(BlockingBatcher, send, relay, max_latency_s=1.0)
    clock = FakeClock()
    batcher._queue.clock = clock
    leader = start_leader(batcher, send, tagged(0, 1))
    (stale,) = start_queued(batcher, [tagged(1, 1)])
    clock.now = 5.0
    send.release.set()
    leader.outcome()
    with pytest.raises(ServiceUnavailable, match="max_latency_ms"):
        stale.outcome()
    assert send.batches == [[(0, 1)]]
    assert batcher._in_flight == 0
    np.testing.assert_array_equal(batcher.call((tagged(2, 1),), {}), -tagged(2, 1))


@BOTH_MODES
def test_blocking_tells_its_send_how_long_the_oldest_call_of_a_batch_waited(relay: bool) -> None:
    # An API worker's batcher: the runner then counts max_latency_ms from when the calls were
    # made, so the two queues together hold a call no longer than max_latency_ms.
    held = HeldSend()
    waits: list[float] = []

    def send(waited: float, x: Any) -> Any:
        waits.append(waited)
        return held(x) if isinstance(x, np.ndarray) else x

    unsplit = policy(4, split_oversized=not relay)
    batcher = BlockingBatcher(send, unsplit, sends_waited=True, relay=relay)
    clock = FakeClock()
    batcher._queue.clock = clock
    leader = start_leader(batcher, held, tagged(0, 1))
    (older, newer) = start_queued(batcher, [tagged(1, 1), tagged(2, 1)])
    clock.now = 0.75
    held.release.set()
    leader.outcome()
    older.outcome()
    newer.outcome()
    assert held.batches == [[(0, 1)], [(1, 1), (2, 1)]]
    assert waits == [0.0, 0.75]  # the lone leader sent at once; then the oldest queued call
    assert batcher.call(("not an array",), {}) == "not an array"  # not batchable: sent alone
    assert waits[-1] == 0.0


@BOTH_MODES
def test_async_tells_its_send_how_long_the_oldest_call_of_a_batch_waited(relay: bool) -> None:
    waits: list[float] = []
    gate = asyncio.Event()

    async def send(waited: float, x: np.ndarray) -> np.ndarray:
        waits.append(waited)
        await gate.wait()
        return -x

    async def scenario() -> list[Any]:
        unsplit = policy(4, split_oversized=not relay)
        batcher = AsyncBatcher(send, unsplit, sends_waited=True, relay=relay)
        clock = FakeClock()
        batcher._queue.clock = clock
        first = asyncio.ensure_future(batcher.call((tagged(0, 1),), {}))
        await asyncio.sleep(0)
        rest = [asyncio.ensure_future(batcher.call((tagged(i, 1),), {})) for i in (1, 2)]
        await asyncio.sleep(0)
        clock.now = 0.5
        gate.set()
        return await asyncio.wait_for(asyncio.gather(first, *rest), TIMEOUT)

    results = asyncio.run(scenario())
    assert [r.tolist() for r in results] == [[-0], [-100], [-200]]
    assert waits == [0.0, 0.5]


@pytest.mark.parametrize("batcher_class", [BlockingBatcher, AsyncBatcher])
def test_splitting_requires_one_batch_in_flight(batcher_class: type) -> None:
    # A split call's pieces must run one after another; two slots would run them at once.
    with pytest.raises(ValueError, match="max_in_flight=1"):
        batcher_class(lambda x: x, policy(4), max_in_flight=2)
    unsplit = BatchPolicy(max_batch_size=4, split_oversized=False)
    batcher_class(lambda x: x, unsplit, max_in_flight=2)  # coalescing only: allowed
    with pytest.raises(ValueError, match="at least 1"):
        batcher_class(lambda x: x, unsplit, max_in_flight=0)


@pytest.mark.parametrize("batcher_class", [BlockingBatcher, AsyncBatcher])
def test_a_relaying_batcher_neither_cuts_nor_counts(batcher_class: type) -> None:
    unsplit = policy(4, split_oversized=False)
    with pytest.raises(ValueError, match="neither splits"):
        batcher_class(lambda x: x, policy(4), relay=True)
    with pytest.raises(ValueError, match="neither splits"):
        batcher_class(lambda x: x, unsplit, histogram=Histogram(), relay=True)


class RefusingQueue:
    """Stands in for a batcher's queue that is empty and must not be used."""

    def __bool__(self) -> bool:
        return False

    def put(self, call: Any, waited: float = 0.0) -> None:
        raise AssertionError("a lone call was queued")

    def take(self) -> tuple[list[Any], list[Any]]:
        return [], []


def test_a_relayed_lone_call_is_sent_without_being_queued() -> None:
    sent: list[Any] = []

    def send(x: Any) -> Any:
        sent.append(x)
        return -x

    async def send_async(x: Any) -> Any:
        return send(x)

    x = tagged(0, 9)  # more rows than a batch: the runner cuts it
    blocking = BlockingBatcher(send, policy(4, split_oversized=False), relay=True)
    blocking._queue = RefusingQueue()  # type: ignore[assignment]
    np.testing.assert_array_equal(blocking.call((x,), {}), -x)
    relaying = AsyncBatcher(send_async, policy(4, split_oversized=False), relay=True)
    relaying._queue = RefusingQueue()  # type: ignore[assignment]
    np.testing.assert_array_equal(asyncio.run(relaying.call((x,), {})), -x)
    assert sent[0] is x and sent[1] is x  # as it came: not joined, cut or copied
    assert blocking._in_flight == relaying._in_flight == 0


# --- AsyncBatcher ----------------------------------------------------------------------------


class AsyncHeldSend:
    """Async counterpart of HeldSend; build it inside the running loop."""

    def __init__(self, held: int = 1, fail_on: int | None = None) -> None:
        self.held = held
        self.fail_on = fail_on
        self.release = asyncio.Event()
        self.batches: list[list[tuple[int, int]]] = []
        self.running = 0
        self.most_running = 0

    async def __call__(self, x: np.ndarray) -> np.ndarray:
        self.batches.append(segments(x))
        number = len(self.batches)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            if number <= self.held:
                await asyncio.wait_for(self.release.wait(), TIMEOUT)
            if number == self.fail_on:
                raise ValueError(f"send {number} failed")
            return -x
        finally:
            self.running -= 1


async def settle(condition: Callable[[], bool], what: str) -> None:
    """Let the loop run until ``condition`` holds (bounded by a deadline)."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        await asyncio.sleep(0)


def test_async_callers_queued_behind_a_send_go_in_one_batch() -> None:
    async def main() -> None:
        send = AsyncHeldSend()
        histogram = Histogram()
        batcher = AsyncBatcher(send, policy(4), histogram=histogram)
        first = asyncio.create_task(batcher.call((tagged(0, 1),), {}))
        await settle(lambda: len(send.batches) == 1, "the first send started")
        others = []
        for tag in (1, 2, 3):
            others.append(asyncio.create_task(batcher.call((tagged(tag, 1),), {})))
            await settle(lambda tag=tag: len(batcher._queue) == tag, "the call is queued")
        assert len(send.batches) == 1
        send.release.set()
        results = await asyncio.wait_for(asyncio.gather(first, *others), TIMEOUT)
        for tag, result in enumerate(results):
            np.testing.assert_array_equal(result, -tagged(tag, 1))
        assert send.batches == [[(0, 1)], [(1, 1), (2, 1), (3, 1)]]
        assert send.most_running == 1
        assert batcher._in_flight == 0
        assert histogram.count == 2

    asyncio.run(main())


@BOTH_MODES
def test_async_batches_are_bounded_and_fifo(relay: bool) -> None:
    async def main() -> None:
        send = AsyncHeldSend()
        batcher = build(AsyncBatcher, send, relay)
        sizes = [1, 2, 2, 1, 3, 1]
        tasks = []
        for tag, rows in enumerate(sizes):
            tasks.append(asyncio.create_task(batcher.call((tagged(tag, rows),), {})))
            await settle(lambda: len(send.batches) == 1, "the first send started")
        send.release.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
        for tag, (rows, result) in enumerate(zip(sizes, results, strict=True)):
            np.testing.assert_array_equal(result, -tagged(tag, rows))
        assert send.batches == [[(0, 1)], [(1, 2), (2, 2)], [(3, 1), (4, 3)], [(5, 1)]]
        assert batcher._in_flight == 0

    asyncio.run(main())


def test_async_max_in_flight_two_runs_two_sends_at_once() -> None:
    async def main() -> None:
        send = AsyncHeldSend(held=2)
        batcher = AsyncBatcher(send, policy(4, split_oversized=False), max_in_flight=2)
        tasks = [asyncio.create_task(batcher.call((tagged(0, 1),), {}))]
        await settle(lambda: send.running == 1, "the first send started")
        tasks.append(asyncio.create_task(batcher.call((tagged(1, 1),), {})))
        await settle(lambda: send.running == 2, "the second send started")
        for tag in (2, 3):
            tasks.append(asyncio.create_task(batcher.call((tagged(tag, 1),), {})))
        await settle(lambda: len(batcher._queue) == 2, "two calls are queued")
        send.release.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
        for tag, result in enumerate(results):
            np.testing.assert_array_equal(result, -tagged(tag, 1))
        assert send.most_running == 2
        assert send.batches == [[(0, 1)], [(1, 1)], [(2, 1), (3, 1)]]
        assert batcher._in_flight == 0

    asyncio.run(main())


@BOTH_MODES
def test_async_an_exception_in_send_reaches_every_caller_of_that_batch(relay: bool) -> None:
    async def main() -> None:
        send = AsyncHeldSend(fail_on=2)
        batcher = build(AsyncBatcher, send, relay)
        first = asyncio.create_task(batcher.call((tagged(0, 1),), {}))
        await settle(lambda: len(send.batches) == 1, "the first send started")
        failing = [asyncio.create_task(batcher.call((tagged(t, 1),), {})) for t in (1, 2)]
        await settle(lambda: len(batcher._queue) == 2, "two calls are queued")
        send.release.set()
        np.testing.assert_array_equal(await first, -tagged(0, 1))
        outcomes = await asyncio.gather(*failing, return_exceptions=True)
        assert all(isinstance(outcome, ValueError) for outcome in outcomes)
        assert outcomes[0] is outcomes[1]
        assert batcher._in_flight == 0
        np.testing.assert_array_equal(await batcher.call((tagged(3, 2),), {}), -tagged(3, 2))

    asyncio.run(main())


@BOTH_MODES
def test_async_a_non_batchable_argument_bypasses_batching(relay: bool) -> None:
    async def main() -> None:
        calls: list[Any] = []

        async def send(*args: Any, **kwargs: Any) -> Any:
            calls.append((args, kwargs))
            return "direct"

        batcher = build(AsyncBatcher, send, relay)
        assert await batcher.call((5,), {"flag": True}) == "direct"
        assert calls == [((5,), {"flag": True})]
        assert batcher._in_flight == 0

    asyncio.run(main())


def test_async_an_oversized_call_is_sent_in_pieces_and_joined() -> None:
    async def main() -> None:
        send = AsyncHeldSend(held=0)
        batcher = AsyncBatcher(send, policy(4))
        result = await batcher.call((tagged(0, 10),), {})
        np.testing.assert_array_equal(result, -tagged(0, 10))
        assert send.batches == [[(0, 4)], [(0, 4)], [(0, 2)]]
        assert batcher._in_flight == 0

    asyncio.run(main())


@BOTH_MODES
def test_async_a_full_queue_refuses_the_call(relay: bool) -> None:
    async def main() -> None:
        send = AsyncHeldSend()
        batcher = build(AsyncBatcher, send, relay, max_queue_rows=2)
        first = asyncio.create_task(batcher.call((tagged(0, 1),), {}))
        await settle(lambda: len(send.batches) == 1, "the first send started")
        queued = asyncio.create_task(batcher.call((tagged(1, 2),), {}))
        await settle(lambda: len(batcher._queue) == 1, "a call is queued")
        with pytest.raises(ServiceUnavailable):
            await batcher.call((tagged(2, 1),), {})
        send.release.set()
        await first
        np.testing.assert_array_equal(await queued, -tagged(1, 2))
        assert batcher._in_flight == 0

    asyncio.run(main())


@BOTH_MODES
def test_async_a_cancelled_caller_does_not_disturb_the_others(relay: bool) -> None:
    async def main() -> None:
        send = AsyncHeldSend()
        batcher = build(AsyncBatcher, send, relay)
        first = asyncio.create_task(batcher.call((tagged(0, 1),), {}))
        await settle(lambda: len(send.batches) == 1, "the first send started")
        gone = asyncio.create_task(batcher.call((tagged(1, 1),), {}))
        kept = asyncio.create_task(batcher.call((tagged(2, 1),), {}))
        await settle(lambda: len(batcher._queue) == 2, "two calls are queued")
        gone.cancel()
        send.release.set()
        np.testing.assert_array_equal(await first, -tagged(0, 1))
        np.testing.assert_array_equal(await kept, -tagged(2, 1))
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert batcher._in_flight == 0

    asyncio.run(main())


@BOTH_MODES
def test_async_cancelling_the_caller_whose_send_is_in_flight_spares_the_queue(relay: bool) -> None:
    """The caller that found the slot free runs its batch in its own task; cancelling it
    cancels that send (it held that call alone), and the calls queued behind it still run."""

    async def main() -> None:
        send = AsyncHeldSend()
        batcher = build(AsyncBatcher, send, relay)
        first = asyncio.create_task(batcher.call((tagged(0, 1),), {}))
        await settle(lambda: len(send.batches) == 1, "the first send started")
        queued = [asyncio.create_task(batcher.call((tagged(tag, 1),), {})) for tag in (1, 2)]
        await settle(lambda: len(batcher._queue) == 2, "two calls are queued")
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        # the queued calls went out as the next batch, which is not held
        results = await asyncio.wait_for(asyncio.gather(*queued), TIMEOUT)
        for tag, result in zip((1, 2), results, strict=True):
            np.testing.assert_array_equal(result, -tagged(tag, 1))
        assert send.batches == [[(0, 1)], [(1, 1), (2, 1)]]
        assert batcher._in_flight == 0

    asyncio.run(main())


@BOTH_MODES
def test_async_a_lone_call_creates_no_task(relay: bool) -> None:
    async def main() -> None:
        async def send(x: np.ndarray) -> np.ndarray:
            return -x

        batcher = build(AsyncBatcher, send, relay)
        created: list[Any] = []
        loop = asyncio.get_running_loop()

        def counting_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
            created.append(coro)
            return asyncio.Task(coro, loop=loop, **kwargs)

        loop.set_task_factory(counting_factory)
        try:
            np.testing.assert_array_equal(await batcher.call((tagged(0, 2),), {}), -tagged(0, 2))
        finally:
            loop.set_task_factory(None)
        assert created == []

    asyncio.run(main())


# --- Runner.init_local() ---------------------------------------------------------------------


@pytest.fixture
def fresh_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("BENTOML_CONFIG", raising=False)
    monkeypatch.delenv("BENTOML_CONFIG_OPTIONS", raising=False)
    monkeypatch.setattr(metrics, "_batch_sizes", {})
    load_config.cache_clear()
    yield monkeypatch
    load_config.cache_clear()


class Recorder:
    """Shared by the test and the runnable: records batches, holds the first until released."""

    def __init__(self, held: int = 1) -> None:
        self.held = held
        self.release = threading.Event()
        self.batches: list[list[tuple[int, int]]] = []
        self._lock = threading.Lock()

    def record(self, x: np.ndarray) -> None:
        with self._lock:
            self.batches.append(segments(x))
            number = len(self.batches)
        if number <= self.held:
            assert self.release.wait(TIMEOUT), "the test never released the method"


class Doubler(Runnable):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @Runnable.method(batchable=True)
    def predict(self, x: np.ndarray) -> np.ndarray:
        self.recorder.record(x)
        return x * 2

    @Runnable.method
    def plain(self, x: np.ndarray) -> np.ndarray:
        self.recorder.record(x)
        return x + 1


def local_runner(recorder: Recorder, **options: Any) -> Runner:
    runner = Runner(Doubler, name="doubler", runnable_init_params={"recorder": recorder}, **options)
    runner.init_local(quiet=True)
    return runner


def test_local_concurrent_run_calls_are_batched(fresh_config: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    runner = local_runner(recorder, max_batch_size=4)
    batcher = runner._handle._blocking["predict"]  # type: ignore[attr-defined]
    results: dict[int, Any] = {}

    def call(tag: int) -> None:
        results[tag] = runner.predict.run(tagged(tag, 1))

    threads = [threading.Thread(target=call, args=(0,), daemon=True)]
    threads[0].start()
    wait_until(lambda: len(recorder.batches) == 1, "the first call runs")
    for tag in (1, 2, 3):
        thread = threading.Thread(target=call, args=(tag,), daemon=True)
        thread.start()
        threads.append(thread)
        wait_until(lambda tag=tag: len(batcher._queue) == tag, "the call is queued")
    recorder.release.set()
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert recorder.batches == [[(0, 1)], [(1, 1), (2, 1), (3, 1)]]
    for tag in range(4):
        np.testing.assert_array_equal(results[tag], tagged(tag, 1) * 2)
    histogram = metrics.batch_size_histogram("doubler", "predict")
    assert histogram.count == 2
    assert histogram.total == 4


def test_local_concurrent_async_run_calls_are_batched(fresh_config: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    runner = local_runner(recorder, max_batch_size=4)
    batcher = runner._handle._async["predict"]  # type: ignore[attr-defined]

    async def main() -> list[Any]:
        first = asyncio.create_task(runner.predict.async_run(tagged(0, 1)))
        deadline = time.monotonic() + TIMEOUT
        while len(recorder.batches) < 1:
            assert time.monotonic() < deadline, "the first call never ran"
            await asyncio.sleep(0.001)
        others = [asyncio.create_task(runner.predict.async_run(tagged(t, 1))) for t in (1, 2)]
        await settle(lambda: len(batcher._queue) == 2, "two calls are queued")
        recorder.release.set()
        return await asyncio.wait_for(asyncio.gather(first, *others), TIMEOUT)

    results = asyncio.run(main())
    assert recorder.batches == [[(0, 1)], [(1, 1), (2, 1)]]
    for tag, result in enumerate(results):
        np.testing.assert_array_equal(result, tagged(tag, 1) * 2)


def test_local_oversized_calls_are_split_by_max_batch_size(
    fresh_config: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder(held=0)
    runner = local_runner(recorder, max_batch_size=4)
    np.testing.assert_array_equal(runner.predict.run(tagged(0, 10)), tagged(0, 10) * 2)
    assert recorder.batches == [[(0, 4)], [(0, 4)], [(0, 2)]]
    np.testing.assert_array_equal(runner.plain.run(tagged(1, 10)), tagged(1, 10) + 1)
    assert recorder.batches[-1] == [(1, 10)]  # not batchable: called as is


def test_local_batching_follows_the_configuration(fresh_config: pytest.MonkeyPatch) -> None:
    fresh_config.setenv("BENTOML_CONFIG_OPTIONS", "runners.doubler.batching.max_batch_size=3")
    recorder = Recorder(held=0)
    runner = local_runner(recorder)
    runner.predict.run(tagged(0, 7))
    assert recorder.batches == [[(0, 3)], [(0, 3)], [(0, 1)]]


def test_local_batching_can_be_disabled(fresh_config: pytest.MonkeyPatch) -> None:
    fresh_config.setenv("BENTOML_CONFIG_OPTIONS", "runners.batching.enabled=false")
    recorder = Recorder(held=0)
    runner = local_runner(recorder, max_batch_size=4)
    np.testing.assert_array_equal(runner.predict.run(tagged(0, 10)), tagged(0, 10) * 2)
    assert recorder.batches == [[(0, 10)]]
    assert runner._handle._blocking == {}  # type: ignore[attr-defined]
