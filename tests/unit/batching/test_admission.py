"""Which calls a ``BatchQueue`` admits: bounded by memory and time, in rows only when configured.

Covers the bytes bound (what a call counts, when its bytes leave the queue: its last piece
taken, or expired), the explicit row bound of ``runners.batching.max_queue_size``, that the
default policy admits many calls far larger than ``max_batch_size``, that each 503 names the
bound that refused it (rows, memory, time), a large call running whole where no
``max_batch_size`` was given, ``containers.nbytes``, and the memory the default bound is sized
from (``batching/memory.py``), with cgroup files written by the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bentoml_classic.batching import containers
from bentoml_classic.batching.batch_queue import BatchQueue, Call
from bentoml_classic.batching.memory import memory_limit
from bentoml_classic.batching.policy import BatchPolicy
from bentoml_classic.config import build_config
from bentoml_classic.exceptions import ServiceUnavailable
from bentoml_classic.runner import Runnable, Runner
from bentoml_classic.runner.policies import resolve_policy
from tests.support.waiting import FakeClock


def rows_of(count: int, tag: int = 0) -> Call:
    """A call of ``count`` float64 rows (8 bytes each) whose values name it."""
    return Call((np.full(count, float(tag)),), {}, 0)


def refusal(queue: BatchQueue, call: Call) -> str:
    with pytest.raises(ServiceUnavailable) as info:
        queue.put(call)
    error = info.value
    assert (error.status_code, error.retry_after) == (503, 1)
    return str(error)


class Summer(Runnable):
    @Runnable.method(batchable=True)
    def total(self, x: Any) -> Any:
        return x.sum(axis=1)


def default_policy(**to_runner: Any) -> BatchPolicy:
    runner = Runner(Summer, name="summer", **to_runner)
    policy = resolve_policy(runner.runner_methods["total"], build_config({}).runner("summer"))
    assert policy is not None
    return policy


# --- the bytes bound -------------------------------------------------------------------------


def test_a_call_that_would_overfill_the_memory_bound_is_refused_naming_memory() -> None:
    queue = BatchQueue(BatchPolicy(max_batch_size=4, max_queue_bytes=100), FakeClock())
    queue.put(rows_of(50))  # an empty queue takes any call, unmeasured: it is never refused
    assert queue.bytes_waiting == 0
    queue.put(rows_of(10, 1))  # 80 bytes
    assert queue.bytes_waiting == 80
    message = refusal(queue, rows_of(3, 2))  # 80 + 24 > 100
    assert "memory bound" in message
    assert "runners.batching.max_queue_bytes" in message
    assert "max_latency_ms" not in message and "rows waiting" not in message
    assert "100" not in message, "the bound's figures (the machine's memory) stay out"
    # the refused call left no trace; one that fits exactly is still taken
    assert (queue.bytes_waiting, queue.rows_waiting, len(queue)) == (80, 60, 13 + 3)
    queue.put(rows_of(2, 3))
    assert queue.bytes_waiting == 96


def test_bytes_leave_the_queue_with_the_last_piece_of_their_call() -> None:
    queue = BatchQueue(BatchPolicy(max_batch_size=4, max_queue_bytes=1000), FakeClock())
    queue.put(rows_of(1))
    queue.put(rows_of(10, 1))  # 80 bytes, cut into 4 + 4 + 2 rows
    queue.put(rows_of(2, 2))  # 16 bytes
    assert queue.bytes_waiting == 96
    for rows in ([1], [4], [4]):  # the lone call, then the cut one's first two pieces
        batch, _ = queue.take()
        assert [piece.rows for piece in batch] == rows
        assert queue.bytes_waiting == 96
    batch, _ = queue.take()  # the cut call's last piece, and the 2-row call
    assert [piece.rows for piece in batch] == [2, 2]
    assert queue.bytes_waiting == 0
    assert not queue


def test_calls_that_expire_free_their_bytes() -> None:
    clock = FakeClock()
    policy = BatchPolicy(max_batch_size=100, max_latency_s=1.0, max_queue_bytes=100)
    queue = BatchQueue(policy, clock)
    queue.put(rows_of(1))
    queue.put(rows_of(10, 1))
    assert queue.bytes_waiting == 80
    clock.now = 5.0
    batch, expired = queue.take()
    assert batch == [] and len(expired) == 2
    assert (queue.bytes_waiting, queue.rows_waiting) == (0, 0)
    queue.put(rows_of(1))
    queue.put(rows_of(12, 1))  # 96 bytes fit again
    assert queue.bytes_waiting == 96


# --- the explicit row bound and the time bound -----------------------------------------------


def test_an_explicit_row_bound_is_refused_naming_rows_and_its_key() -> None:
    policy = BatchPolicy(max_batch_size=4, max_queue_rows=5, max_queue_bytes=10**9)
    queue = BatchQueue(policy, FakeClock())
    queue.put(rows_of(3))
    queue.put(rows_of(2, 1))
    message = refusal(queue, rows_of(1, 2))
    assert "queue is full (5 rows waiting, limit 5" in message
    assert "runners.batching.max_queue_size" in message
    assert "memory" not in message and "max_latency_ms" not in message


def test_a_call_that_waited_too_long_is_answered_naming_time() -> None:
    clock = FakeClock()
    queue = BatchQueue(BatchPolicy(max_batch_size=10, max_latency_s=0.5), clock)
    queue.put(rows_of(1))
    clock.now = 0.75
    _, expired = queue.take()
    error = expired[0].error
    assert isinstance(error, ServiceUnavailable) and error.retry_after == 1
    message = str(error)
    assert "too busy to answer in time" in message
    assert "waited 750 ms" in message and "max_latency_ms of 500" in message
    assert "memory" not in message and "rows waiting" not in message


# --- the default ------------------------------------------------------------------------------


def test_the_default_admits_many_calls_far_larger_than_a_batch() -> None:
    policy = default_policy()
    assert policy.max_queue_rows is None and policy.max_queue_bytes is not None
    queue = BatchQueue(policy, FakeClock())
    frames = [pd.DataFrame(np.full((1000, 8), float(i))) for i in range(64)]
    frames += [pd.DataFrame(np.zeros((10_000, 8))) for _ in range(4)]
    for frame in frames:
        queue.put(Call((frame,), {}, 0))
    assert queue.rows_waiting == 64 * 1000 + 40_000
    assert queue.bytes_waiting == (63 * 1000 + 40_000) * 8 * 8  # the first one is not measured


def test_without_a_given_max_batch_size_a_larger_call_runs_whole_and_alone() -> None:
    policy = default_policy()
    assert (policy.max_batch_size, policy.split_oversized) == (100, False)
    queue = BatchQueue(policy, FakeClock())
    for call in (rows_of(1000), rows_of(30, 1), rows_of(70, 2), rows_of(1, 3)):
        queue.put(call)
    sizes = []
    while queue:
        batch, _ = queue.take()
        sizes.append([piece.rows for piece in batch])
    assert sizes == [[1000], [30, 70], [1]]


def test_a_given_max_batch_size_still_cuts_larger_calls() -> None:
    policy = default_policy(max_batch_size=100)
    assert policy.split_oversized
    queue = BatchQueue(policy, FakeClock())
    queue.put(rows_of(1000))
    assert len(queue) == 10


# --- what a call counts ----------------------------------------------------------------------


def test_nbytes_counts_buffers_in_constant_time() -> None:
    assert containers.nbytes(np.zeros((10, 3), dtype=np.float32)) == 120
    assert containers.nbytes(pd.DataFrame(np.zeros((10, 3)))) == 240
    assert containers.nbytes(pd.Series(np.zeros(10, dtype=np.int8))) == 80  # 8 a cell
    assert containers.nbytes([[1, 2], [3, 4], [5, 6]]) == 24
    call = Call((np.zeros((4, 2)),), {"mask": [1, 2, 3, 4]}, 0)
    assert call.measure() == 64 + 32 == call.nbytes


# --- the memory the default is sized from ----------------------------------------------------


def test_memory_limit_is_the_smaller_of_the_machine_and_its_cgroup(tmp_path: Path) -> None:
    machine = memory_limit(cgroup_paths=())
    assert machine > 0
    unlimited_v2 = tmp_path / "memory.max"
    unlimited_v2.write_text("max\n")
    huge_v1 = tmp_path / "memory.limit_in_bytes"
    huge_v1.write_text(f"{2**63 - 4096}\n")
    assert memory_limit(cgroup_paths=(unlimited_v2, huge_v1)) == machine
    limited = tmp_path / "limited.max"
    limited.write_text("536870912\n")
    assert memory_limit(cgroup_paths=(tmp_path / "missing", limited)) == 512 * 1024**2
