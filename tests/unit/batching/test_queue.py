"""``batching.batch_queue``: the FIFO batch queue and running a batch.

Covers exact batch compositions (FIFO prefixes bounded by ``max_batch_size``; a call that does
not fit starts the next batch), a seeded property-style check of the bound and of the order,
cutting oversized calls into pieces, keeping unjoinable calls apart, the queue bound (503 with
Retry-After), expiry after ``max_latency_s`` with an injected clock, ``run_batch`` /
``record_outcome`` / ``finish_call`` (results split back, tuple outputs, errors reaching every
call, pieces joined back). Which policy a runner method gets: ``runner/test_policies.py``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from bentoml_classic.batching.batch_queue import (
    BatchQueue,
    Call,
    Piece,
    finish_call,
    join_inputs,
    join_outputs,
    record_outcome,
    run_batch,
    split_output,
)
from bentoml_classic.batching.policy import BatchPolicy
from bentoml_classic.exceptions import (
    InternalServerError,
    InvalidArgument,
    ServiceUnavailable,
)
from tests.support.waiting import FakeClock

# --- helpers ---------------------------------------------------------------------------------


def tagged(tag: int, rows: int, dtype: Any = np.int64) -> np.ndarray:
    """``rows`` values that name their call: tag 3 with 2 rows is [300, 301]."""
    return (tag * 100 + np.arange(rows)).astype(dtype)


def call_of(tag: int, rows: int) -> Call:
    return Call((tagged(tag, rows),), {}, 0)


def tag_of(piece: Piece) -> int:
    return int(piece.call.args[0][0]) // 100


def shape(batch: Sequence[Piece]) -> list[tuple[int, int]]:
    """A batch as (tag, rows) per piece."""
    return [(tag_of(piece), piece.rows) for piece in batch]


def drain(queue: BatchQueue) -> list[list[tuple[int, int]]]:
    batches = []
    while queue:
        batch, expired = queue.take()
        assert expired == []
        batches.append(shape(batch))
    return batches


def queue_of(max_batch_size: int, rows: Sequence[int], **policy: Any) -> BatchQueue:
    queue = BatchQueue(BatchPolicy(max_batch_size=max_batch_size, **policy), FakeClock())
    for tag, count in enumerate(rows):
        queue.put(call_of(tag, count))
    return queue


# --- Call ------------------------------------------------------------------------------------


def test_call_measures_rows_and_refuses_mismatched_arguments() -> None:
    call = Call((np.zeros((3, 2)),), {"mask": [1, 2, 3]}, 0)
    assert call.rows == 3
    with pytest.raises(InvalidArgument, match=r"\[3, 2\]"):
        Call((np.zeros(3),), {"mask": [1, 2]}, 0)
    with pytest.raises(InvalidArgument, match="at least one argument"):
        Call((), {}, 0)
    with pytest.raises(InternalServerError, match="got str"):
        Call(("text",), {}, 0)


# --- batch composition -----------------------------------------------------------------------


def test_batches_are_fifo_prefixes_bounded_by_max_batch_size() -> None:
    queue = queue_of(4, [1, 2, 1, 3, 1])
    assert queue.rows_waiting == 8
    assert drain(queue) == [[(0, 1), (1, 2), (2, 1)], [(3, 3), (4, 1)]]
    assert queue.rows_waiting == 0
    assert queue.take() == ([], [])


def test_a_call_that_does_not_fit_starts_the_next_batch() -> None:
    # FIFO: the 1-row call behind must not jump ahead into the first batch
    assert drain(queue_of(4, [3, 2, 1])) == [[(0, 3)], [(1, 2), (2, 1)]]
    assert drain(queue_of(4, [2, 2, 2])) == [[(0, 2), (1, 2)], [(2, 2)]]
    assert drain(queue_of(1, [1, 1, 1])) == [[(0, 1)], [(1, 1)], [(2, 1)]]


def test_join_inputs_concatenates_the_batch_in_fifo_order() -> None:
    queue = queue_of(8, [2, 1, 3])
    batch, _ = queue.take()
    args, kwargs = join_inputs(batch, 0)
    assert kwargs == {}
    np.testing.assert_array_equal(args[0], [0, 1, 100, 200, 201, 202])


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("split_oversized", [True, False])
def test_batches_never_exceed_max_and_keep_the_submitted_order(
    seed: int, split_oversized: bool
) -> None:
    rng = random.Random(seed)
    max_batch_size = rng.randint(1, 9)
    policy = BatchPolicy(max_batch_size=max_batch_size, split_oversized=split_oversized)
    queue = BatchQueue(policy, FakeClock())
    largest = 3 * max_batch_size if split_oversized else max_batch_size
    submitted: list[np.ndarray] = []
    batched: list[np.ndarray] = []

    def take_one() -> None:
        batch, expired = queue.take()
        assert expired == []
        assert batch
        assert sum(piece.rows for piece in batch) <= max_batch_size
        batched.append(join_inputs(batch, 0)[0][0])

    for tag in range(rng.randint(1, 40)):
        value = tagged(tag, rng.randint(0, largest))
        submitted.append(value)
        queue.put(Call((value,), {}, 0))
        if rng.random() < 0.3:
            take_one()  # interleave takes with puts, as a driver does
    while queue:
        take_one()
    assert queue.rows_waiting == 0
    np.testing.assert_array_equal(np.concatenate(batched), np.concatenate(submitted))


# --- oversized calls -------------------------------------------------------------------------


def test_an_oversized_call_is_cut_into_consecutive_pieces() -> None:
    queue = queue_of(4, [10])
    assert len(queue) == 3
    assert queue.rows_waiting == 10
    pieces = [queue.take()[0] for _ in range(3)]
    assert [[(p.start, p.stop) for p in batch] for batch in pieces] == [
        [(0, 4)],
        [(4, 8)],
        [(8, 10)],
    ]
    assert all(not batch[0].whole for batch in pieces)
    np.testing.assert_array_equal(pieces[1][0].values(0)[0][0], [4, 5, 6, 7])
    assert pieces[0][0].call.remaining == 3
    assert queue.rows_waiting == 0


def test_the_last_piece_of_an_oversized_call_shares_a_batch_with_the_next_call() -> None:
    assert drain(queue_of(4, [10, 1])) == [[(0, 4)], [(0, 4)], [(0, 2), (1, 1)]]
    assert drain(queue_of(4, [1, 10, 1])) == [[(0, 1)], [(1, 4)], [(1, 4)], [(1, 2), (2, 1)]]
    # an exact multiple leaves no remainder
    assert drain(queue_of(4, [8, 3])) == [[(0, 4)], [(0, 4)], [(1, 3)]]


def test_without_split_oversized_a_large_call_runs_alone_and_whole() -> None:
    queue = queue_of(4, [1, 10, 1], split_oversized=False)
    assert len(queue) == 3
    assert drain(queue) == [[(0, 1)], [(1, 10)], [(2, 1)]]


# --- incompatible calls ----------------------------------------------------------------------


def test_calls_with_different_dtypes_are_never_in_one_batch() -> None:
    queue = BatchQueue(BatchPolicy(max_batch_size=10), FakeClock())
    queue.put(Call((tagged(0, 1),), {}, 0))
    queue.put(Call((tagged(1, 1, np.float64),), {}, 0))
    queue.put(Call((tagged(2, 1, np.float64),), {}, 0))
    queue.put(Call((tagged(3, 1),), {}, 0))
    assert drain(queue) == [[(0, 1)], [(1, 1), (2, 1)], [(3, 1)]]


def test_calls_with_different_trailing_shapes_are_never_in_one_batch() -> None:
    queue = BatchQueue(BatchPolicy(max_batch_size=10), FakeClock())
    for tag, width in enumerate([3, 3, 4, 3]):
        queue.put(Call((np.full((2, width), tag * 100),), {}, 0))
    batches = []
    while queue:
        batches.append([p.call.args[0].shape for p in queue.take()[0]])
    assert batches == [[(2, 3), (2, 3)], [(2, 4)], [(2, 3)]]


def test_calls_with_different_argument_layouts_are_never_in_one_batch() -> None:
    queue = BatchQueue(BatchPolicy(max_batch_size=10), FakeClock())
    layouts = [
        ((tagged(0, 1),), {}),
        ((), {"x": tagged(1, 1)}),
        ((), {"x": tagged(2, 1)}),
        ((), {"y": tagged(3, 1)}),
        ((tagged(4, 1), tagged(4, 1)), {}),
        ((tagged(5, 1),), {}),
    ]
    for args, kwargs in layouts:
        queue.put(Call(args, kwargs, 0))
    batches = []
    while queue:
        batch, _ = queue.take()
        batches.append([int([*p.call.args, *p.call.kwargs.values()][0][0]) // 100 for p in batch])
    assert batches == [[0], [1, 2], [3], [4], [5]]


def test_keyword_arguments_are_joined_by_name() -> None:
    queue = BatchQueue(BatchPolicy(max_batch_size=10), FakeClock())
    queue.put(Call((tagged(0, 1),), {"w": [0.5]}, 0))
    queue.put(Call((tagged(1, 2),), {"w": [1.5, 2.5]}, 0))
    batch, _ = queue.take()
    args, kwargs = join_inputs(batch, 0)
    np.testing.assert_array_equal(args[0], [0, 100, 101])
    assert kwargs == {"w": [0.5, 1.5, 2.5]}


# --- queue bound -----------------------------------------------------------------------------


def test_a_full_queue_refuses_calls_with_503_and_retry_after() -> None:
    queue = BatchQueue(BatchPolicy(max_batch_size=4, max_queue_rows=5), FakeClock())
    queue.put(call_of(0, 3))
    queue.put(call_of(1, 2))
    with pytest.raises(ServiceUnavailable) as info:
        queue.put(call_of(2, 1))
    error = info.value
    assert error.status_code == 503
    assert error.http_status == 503
    assert error.retry_after == 1
    assert "5 rows waiting, limit 5" in str(error)
    # the refused call left no trace
    assert queue.rows_waiting == 5
    assert len(queue) == 2
    assert drain(queue) == [[(0, 3)], [(1, 2)]]


def test_taking_a_batch_frees_room_in_the_queue() -> None:
    queue = BatchQueue(BatchPolicy(max_batch_size=4, max_queue_rows=5), FakeClock())
    queue.put(call_of(0, 3))
    queue.put(call_of(1, 2))
    queue.take()
    queue.put(call_of(2, 3))  # 2 + 3 rows fit again
    with pytest.raises(ServiceUnavailable):
        queue.put(call_of(3, 1))
    assert drain(queue) == [[(1, 2)], [(2, 3)]]


def test_an_empty_queue_accepts_a_call_of_any_size() -> None:
    queue = BatchQueue(BatchPolicy(max_batch_size=4, max_queue_rows=5), FakeClock())
    queue.put(call_of(0, 50))
    assert queue.rows_waiting == 50
    with pytest.raises(ServiceUnavailable):
        queue.put(call_of(1, 1))
    batches = drain(queue)
    assert len(batches) == 13
    assert sum(rows for batch in batches for _, rows in batch) == 50


def test_without_a_queue_bound_anything_is_accepted() -> None:
    queue = queue_of(4, [100] * 10)
    assert queue.rows_waiting == 1000


# --- max_latency -----------------------------------------------------------------------------


def test_calls_that_waited_too_long_are_expired_at_take_time() -> None:
    clock = FakeClock()
    queue = BatchQueue(BatchPolicy(max_batch_size=10, max_latency_s=1.0), clock)
    stale_a, stale_b, fresh = call_of(0, 1), call_of(1, 2), call_of(2, 1)
    queue.put(stale_a)
    clock.now = 0.5
    queue.put(stale_b)
    clock.now = 1.25
    queue.put(fresh)
    clock.now = 1.75  # stale_a waited 1.75 s, stale_b 1.25 s, fresh 0.5 s
    batch, expired = queue.take()
    assert shape(batch) == [(2, 1)]
    assert expired == [stale_a, stale_b]
    for call in expired:
        assert isinstance(call.error, ServiceUnavailable)
        assert call.error.status_code == 503
        assert call.error.retry_after == 1
        assert "max_latency_ms of 1000" in str(call.error)
    assert "waited 1750 ms" in str(stale_a.error)
    assert fresh.error is None
    assert queue.rows_waiting == 0
    assert not queue


def test_expiry_happens_only_when_a_batch_is_taken() -> None:
    clock = FakeClock()
    queue = BatchQueue(BatchPolicy(max_batch_size=10, max_latency_s=1.0), clock)
    call = call_of(0, 1)
    queue.put(call)
    clock.now = 100.0
    assert call.error is None
    assert len(queue) == 1
    assert queue.take() == ([], [call])


def test_a_call_that_waited_exactly_max_latency_still_runs() -> None:
    clock = FakeClock()
    queue = BatchQueue(BatchPolicy(max_batch_size=10, max_latency_s=2.0), clock)
    queue.put(call_of(0, 1))
    clock.now = 2.0
    batch, expired = queue.take()
    assert shape(batch) == [(0, 1)]
    assert expired == []


def test_without_max_latency_nothing_expires() -> None:
    clock = FakeClock()
    queue = BatchQueue(BatchPolicy(max_batch_size=10), clock)
    queue.put(call_of(0, 1))
    clock.now = 1e9
    assert shape(queue.take()[0]) == [(0, 1)]


def test_time_already_waited_elsewhere_counts_against_max_latency() -> None:
    # An API worker's batch arrives at the runner having waited in the worker's own queue: the
    # runner's queue counts max_latency from when the calls were made, so that the two queues
    # together never hold a call longer than max_latency.
    clock = FakeClock()
    queue = BatchQueue(BatchPolicy(max_batch_size=10, max_latency_s=1.0), clock)
    aged, fresh = call_of(0, 1), call_of(1, 1)
    queue.put(aged, 0.75)
    queue.put(fresh)
    clock.now = 0.5  # aged: 1.25 s in all, fresh 0.5 s
    batch, expired = queue.take()
    assert shape(batch) == [(1, 1)]
    assert expired == [aged]
    assert "waited 1250 ms" in str(aged.error)


def test_an_aged_call_behind_a_fresh_one_is_expired_too() -> None:
    # Arrivals counted from elsewhere are not in queue order: the queue must not stop looking at
    # the first call still in time.
    clock = FakeClock()
    queue = BatchQueue(BatchPolicy(max_batch_size=10, max_latency_s=1.0), clock)
    fresh, aged, later = call_of(0, 1), call_of(1, 2), call_of(2, 1)
    queue.put(fresh)
    queue.put(aged, 0.9)
    queue.put(later)
    clock.now = 0.2  # fresh 0.2 s, aged 1.1 s, later 0.2 s
    batch, expired = queue.take()
    assert shape(batch) == [(0, 1), (2, 1)]
    assert expired == [aged]
    assert queue.rows_waiting == 0


def test_calls_left_behind_by_a_take_still_expire_later() -> None:
    # The queue skips its scan while its earliest arrival is recent: what is left after a take
    # (a batch's worth taken, or expired calls dropped) must still be counted from its arrival.
    clock = FakeClock()
    queue = BatchQueue(BatchPolicy(max_batch_size=1, max_latency_s=1.0), clock)
    old, middle, young = call_of(0, 1), call_of(1, 1), call_of(2, 1)
    queue.put(old)
    clock.now = 0.6
    queue.put(middle)
    clock.now = 0.9
    queue.put(young)
    clock.now = 1.5  # old is late; middle (0.9 s) runs, young (0.6 s) stays
    assert queue.take() == ([Piece(middle, 0, 1)], [old])
    clock.now = 2.0  # young 1.1 s: late
    assert queue.take() == ([], [young])
    queue.put(call_of(3, 1))  # an empty queue starts counting afresh
    clock.now = 2.5
    assert shape(queue.take()[0]) == [(3, 1)]


def test_a_call_whose_first_piece_ran_is_not_expired() -> None:
    clock = FakeClock()
    queue = BatchQueue(BatchPolicy(max_batch_size=4, max_latency_s=1.0), clock)
    big = call_of(0, 10)
    queue.put(big)
    clock.now = 0.5
    stale = call_of(1, 1)
    queue.put(stale)
    assert shape(queue.take()[0]) == [(0, 4)]
    clock.now = 3.0
    fresh = call_of(2, 1)
    queue.put(fresh)
    batch, expired = queue.take()
    assert [(p.start, p.stop) for p in batch] == [(4, 8)]
    assert expired == [stale]
    assert big.error is None
    clock.now = 10.0  # fresh has waited 7 s by now, but the rest of big still runs
    batch, expired = queue.take()
    assert [(p.start, p.stop) for p in batch] == [(8, 10)]
    assert expired == [fresh]
    assert big.error is None
    assert not queue
    assert queue.rows_waiting == 0


# --- running a batch -------------------------------------------------------------------------


def run_all(queue: BatchQueue, func: Any) -> list[Call]:
    done = []
    while queue:
        batch, _ = queue.take()
        done.extend(run_batch(func, batch, queue.policy))
    return done


def test_results_are_split_back_in_order() -> None:
    queue = queue_of(10, [2, 1, 3])
    calls = [p.call for p in queue._pieces]
    done = run_all(queue, lambda x: x * 10)
    assert done == calls
    for tag, call in enumerate(calls):
        result, error = finish_call(call, 0)
        assert error is None
        np.testing.assert_array_equal(result, tagged(tag, call.rows) * 10)


def test_tuple_outputs_are_split_element_by_element() -> None:
    queue = queue_of(10, [2, 1])
    calls = [p.call for p in queue._pieces]
    run_all(queue, lambda x: (x + 1, [f"row {v}" for v in x]))
    first, error = finish_call(calls[0], 0)
    assert error is None
    assert isinstance(first, tuple)
    np.testing.assert_array_equal(first[0], [1, 2])
    assert first[1] == ["row 0", "row 1"]
    second, _ = finish_call(calls[1], 0)
    np.testing.assert_array_equal(second[0], [101])
    assert second[1] == ["row 100"]


def test_an_output_with_the_wrong_row_count_fails_every_call_of_the_batch() -> None:
    queue = queue_of(10, [2, 1])
    calls = [p.call for p in queue._pieces]
    done = run_all(queue, lambda x: x[:-1])
    assert done == calls
    errors = [finish_call(call, 0) for call in calls]
    assert all(result is None for result, _ in errors)
    assert all(isinstance(error, InternalServerError) for _, error in errors)
    assert "returned 2 row(s) for 3 input row(s)" in str(errors[0][1])
    assert errors[0][1] is errors[1][1]


def test_a_tuple_output_with_a_short_element_fails_every_call() -> None:
    queue = queue_of(10, [2, 1])
    calls = [p.call for p in queue._pieces]
    run_all(queue, lambda x: (x, x[:1]))
    for call in calls:
        assert isinstance(finish_call(call, 0)[1], InternalServerError)


def test_an_exception_from_the_method_reaches_every_call_of_the_batch() -> None:
    boom = ValueError("model failed")

    def fail(x: np.ndarray) -> np.ndarray:
        raise boom

    queue = queue_of(10, [2, 1, 1])
    calls = [p.call for p in queue._pieces]
    assert run_all(queue, fail) == calls
    for call in calls:
        assert finish_call(call, 0) == (None, boom)
        with pytest.raises(ValueError, match="model failed"):
            call.result(0)


def test_an_exception_fails_only_its_own_batch() -> None:
    def fail_on_tag_1(x: np.ndarray) -> np.ndarray:
        if 100 in x:
            raise ValueError("tag 1")
        return x

    queue = queue_of(2, [2, 1, 1, 2])  # batches [0], [1, 2], [3]
    calls = [p.call for p in queue._pieces]
    run_all(queue, fail_on_tag_1)
    outcomes = [finish_call(call, 0) for call in calls]
    assert outcomes[0][1] is None
    assert isinstance(outcomes[1][1], ValueError)
    assert outcomes[2][1] is outcomes[1][1]
    assert outcomes[3][1] is None
    np.testing.assert_array_equal(outcomes[3][0], [300, 301])


def test_a_split_call_is_joined_back_into_one_result() -> None:
    def func(x: np.ndarray) -> np.ndarray:
        return x * 2 + 1

    queue = queue_of(4, [10, 1])
    big, small = (p.call for p in (queue._pieces[0], queue._pieces[-1]))
    sizes = []
    completed: list[list[Call]] = []
    while queue:
        batch, _ = queue.take()
        sizes.append(sum(p.rows for p in batch))
        completed.append(run_batch(func, batch, queue.policy))
    assert sizes == [4, 4, 3]
    assert completed == [[], [], [big, small]]
    result, error = finish_call(big, 0)
    assert error is None
    np.testing.assert_array_equal(result, func(tagged(0, 10)))
    np.testing.assert_array_equal(finish_call(small, 0)[0], func(tagged(1, 1)))


def test_a_split_call_with_tuple_outputs_is_joined_back_as_a_tuple() -> None:
    queue = queue_of(4, [6])
    call = queue._pieces[0].call
    run_all(queue, lambda x: (x, list(x * 3)))
    result, error = finish_call(call, 0)
    assert error is None
    np.testing.assert_array_equal(result[0], tagged(0, 6))
    assert result[1] == list(tagged(0, 6) * 3)


def test_a_split_call_fails_if_any_piece_fails() -> None:
    def fail_second(x: np.ndarray) -> np.ndarray:
        if x[0] == 4:
            raise ValueError("second piece")
        return x

    queue = queue_of(4, [10])
    call = queue._pieces[0].call
    run_all(queue, fail_second)
    result, error = finish_call(call, 0)
    assert result is None
    assert isinstance(error, ValueError)
    assert str(error) == "second piece"


def test_a_split_call_reports_the_first_error_its_pieces_met() -> None:
    def fail(x: np.ndarray) -> np.ndarray:
        raise ValueError(f"piece at {x[0]}")

    queue = queue_of(4, [10])
    call = queue._pieces[0].call
    run_all(queue, fail)
    assert str(finish_call(call, 0)[1]) == "piece at 0"


def test_outputs_are_split_along_the_output_dim() -> None:
    policy = BatchPolicy(max_batch_size=10, input_dim=0, output_dim=1)
    queue = BatchQueue(policy, FakeClock())
    calls = [call_of(0, 2), call_of(1, 1)]
    for call in calls:
        queue.put(call)
    batch, _ = queue.take()
    run_batch(lambda x: np.stack([x, -x]), batch, policy)  # rows become columns
    np.testing.assert_array_equal(finish_call(calls[0], 1)[0], [[0, 1], [0, -1]])
    np.testing.assert_array_equal(finish_call(calls[1], 1)[0], [[100], [-100]])


def test_record_outcome_with_an_error() -> None:
    queue = queue_of(10, [1, 1])
    batch, _ = queue.take()
    error = RuntimeError("send failed")
    done = record_outcome(batch, None, error, queue.policy)
    assert [call.error for call in done] == [error, error]


def test_split_output_and_join_outputs() -> None:
    pieces = split_output((np.arange(3), [1, 2, 3]), [1, 2], 0)
    assert len(pieces) == 2
    np.testing.assert_array_equal(pieces[1][0], [1, 2])
    assert pieces[1][1] == [2, 3]
    joined = join_outputs(pieces, 0)
    np.testing.assert_array_equal(joined[0], [0, 1, 2])
    assert joined[1] == [1, 2, 3]
    assert join_outputs([[1], [2, 3]], 0) == [1, 2, 3]
