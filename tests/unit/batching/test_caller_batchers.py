"""``batching.caller_batchers``: the API worker's drivers of a batch queue.

- ``BlockingBatcher`` with real threads: a send held on an event lets other callers queue up
  (observed through the queue's length, with a deadline), then is released.
- ``AsyncBatcher`` with ``asyncio.run`` and a send held on an ``asyncio.Event``.

Nothing here sleeps to synchronise: threads are joined with timeouts and waits poll a condition
under a deadline.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from typing import Any

import numpy as np
import pytest

from bentoml_classic.batching.caller_batchers import AsyncBatcher, BlockingBatcher
from bentoml_classic.batching.policy import BatchPolicy
from bentoml_classic.exceptions import ServiceUnavailable
from tests.support.batches import policy, segments, tagged
from tests.support.metrics import Recorder
from tests.support.waiting import FakeClock, settle, wait_until

TIMEOUT = 5.0


#: Both ways an API-side batcher is built: one that counts and may cut every call (a runner's
#: init_local()), and one that relays to a runner that batches again (an API worker's), where a
#: call that finds nothing queued and a slot free is sent unexamined. They must behave alike.
BOTH_MODES = pytest.mark.parametrize("relay", [False, True], ids=["counting", "relaying"])


def build(batcher_class: type, send: Any, relay: bool, size: int = 4, **options: Any) -> Any:
    if relay:
        unsplit = policy(size, split_oversized=False, **options)
        return batcher_class(send, unsplit, relay=True)
    return batcher_class(send, policy(size, **options))


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
    histogram = Recorder()
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


def test_blocking_a_handed_over_batch_is_freed_without_the_cycle_collector() -> None:
    """A caller handed the lead holds its batch, whose calls refer back to it: once answered,
    the batch (and the request's arrays in it) must be freed by reference counting, not left
    to Python's collector, which does not run while the worker rests."""
    send = HeldSend()
    batcher = BlockingBatcher(send, policy(4))
    leader = start_leader(batcher, send, tagged(0, 1))
    value = tagged(1, 1)
    freed = weakref.ref(value)
    follower = start_queued(batcher, [value])[0]
    del value
    gc.disable()
    try:
        send.release.set()
        leader.outcome()
        np.testing.assert_array_equal(follower.outcome(), -tagged(1, 1))
        follower.value = None
        assert freed() is None
    finally:
        gc.enable()


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
    histogram = Recorder()
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
        batcher_class(lambda x: x, unsplit, histogram=Recorder(), relay=True)


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
    gathering = AsyncBatcher(
        send_async, policy(4, split_oversized=False), relay=True, gathers_turn=True
    )
    gathering._queue = RefusingQueue()  # type: ignore[assignment]
    np.testing.assert_array_equal(asyncio.run(gathering.call((x,), {})), -x)
    assert len(sent) == 3 and all(each is x for each in sent)  # as it came: not joined, cut
    assert blocking._in_flight == relaying._in_flight == gathering._in_flight == 0


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


def test_async_callers_queued_behind_a_send_go_in_one_batch() -> None:
    async def main() -> None:
        send = AsyncHeldSend()
        histogram = Recorder()
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


def test_a_turns_calls_leave_together_when_the_batcher_gathers_turns() -> None:
    """A burst finding the slot free goes as one batch, not one call then the rest a round
    trip later; calls that come while it is in flight go next, as with any batcher."""

    async def main() -> None:
        send = AsyncHeldSend()
        batcher = AsyncBatcher(
            send, policy(8, split_oversized=False), relay=True, gathers_turn=True
        )
        burst = [asyncio.ensure_future(batcher.call((tagged(tag, 1),), {})) for tag in range(3)]
        await settle(lambda: len(send.batches) == 1, "the burst was sent")
        later = asyncio.ensure_future(batcher.call((tagged(3, 2),), {}))
        await settle(lambda: len(batcher._queue) == 1, "the later call is queued")
        send.release.set()
        results = await asyncio.wait_for(asyncio.gather(*burst, later), TIMEOUT)
        for tag, result in enumerate(results):
            np.testing.assert_array_equal(result, -tagged(tag, 2 if tag == 3 else 1))
        first, second = send.batches
        assert sorted(first) == [(0, 1), (1, 1), (2, 1)] and second == [(3, 2)]
        assert batcher._in_flight == 0

    asyncio.run(main())


def test_a_call_cancelled_while_it_holds_the_turn_passes_the_slot_on() -> None:
    async def main() -> None:
        send = AsyncHeldSend(held=0)
        batcher = AsyncBatcher(
            send, policy(8, split_oversized=False), relay=True, gathers_turn=True
        )
        tasks = [asyncio.ensure_future(batcher.call((tagged(tag, 1),), {})) for tag in range(3)]
        await asyncio.sleep(0)  # the first holds the slot; the others queue behind it
        tasks[0].cancel()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), TIMEOUT)
        assert isinstance(results[0], asyncio.CancelledError)
        for tag in (1, 2):
            np.testing.assert_array_equal(results[tag], -tagged(tag, 1))
        assert send.batches == [[(1, 1), (2, 1)]]
        assert batcher._in_flight == 0

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
