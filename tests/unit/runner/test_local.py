"""``runner.local``: batching through ``Runner.init_local()``: concurrent ``run``/``async_run``
calls of a batchable method batch as in the production topology, under the configuration."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from bentoml_classic.config import load_config
from bentoml_classic.metrics.registry import exposition
from bentoml_classic.runner import Runnable, Runner
from tests.support.batches import segments, tagged
from tests.support.metrics import parse, value
from tests.support.waiting import settle, wait_until

TIMEOUT = 5.0


# --- Runner.init_local() ---------------------------------------------------------------------


@pytest.fixture
def fresh_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("BENTOML_CONFIG", raising=False)
    monkeypatch.delenv("BENTOML_CONFIG_OPTIONS", raising=False)
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


def batch_sizes(runner: str) -> tuple[float, float]:
    """Count and sum of a runner's batch sizes in this process (every test's, so far)."""
    samples = parse(exposition().decode())
    name = "bentoml_runner_adaptive_batch_size"
    labels = {"runner_name": runner, "method_name": "predict", "worker_index": "local"}
    return value(samples, f"{name}_count", **labels), value(samples, f"{name}_sum", **labels)


def test_local_concurrent_run_calls_are_batched(fresh_config: pytest.MonkeyPatch) -> None:
    counted_before, rows_before = batch_sizes("doubler")
    recorder = Recorder()
    runner = local_runner(recorder, max_batch_size=4)
    batcher = runner.runner_handle._blocking["predict"]  # type: ignore[attr-defined]
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
    counted, rows = batch_sizes("doubler")
    assert (counted - counted_before, rows - rows_before) == (2, 4)


def test_local_concurrent_async_run_calls_are_batched(fresh_config: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    runner = local_runner(recorder, max_batch_size=4)
    batcher = runner.runner_handle._async["predict"]  # type: ignore[attr-defined]

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
    assert runner.runner_handle._blocking == {}  # type: ignore[attr-defined]
