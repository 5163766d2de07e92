"""ModelLane: which thread runs a job, that jobs never overlap and keep their order, and that the
event loop stays free while a long job runs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from bentoml_classic.batching.model_lane import ModelLane

WAIT = 10.0


class Recorder:
    """Jobs that note which thread ran them and whether another job ran at the same time.

    A job's duration as the lane sees it is its ``cost`` on the recorder's clock, so that a
    loaded machine cannot turn a quick job into a slow one; ``sleep`` is real time.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.ran: list[tuple[str, str]] = []  # (job label, thread name)
        self.finished: list[tuple[str, Any]] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def job(
        self, label: str, cost: float = 0.0, sleep: float = 0.0, result: Any = None
    ) -> Callable[[], tuple[Callable[[], Any], Callable[[Any], None]]]:
        def compute() -> Any:
            with self._lock:
                self.running += 1
                self.most_at_once = max(self.most_at_once, self.running)
            self.ran.append((label, threading.current_thread().name))
            self.now += cost
            if sleep:
                time.sleep(sleep)
            with self._lock:
                self.running -= 1
            return result if result is not None else label

        def finish(outcome: Any) -> None:
            self.finished.append((label, outcome))

        return lambda: (compute, finish)


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.002)


def run(scenario: Callable[[ModelLane, Recorder], Any], **lane_options: Any) -> Recorder:
    recorder = Recorder()

    async def main() -> None:
        lane = ModelLane(asyncio.get_running_loop(), clock=recorder.clock, **lane_options)
        try:
            await scenario(lane, recorder)
        finally:
            lane.close()

    asyncio.run(main())
    return recorder


def test_a_method_runs_on_the_lane_thread_until_it_proved_quick() -> None:
    async def scenario(lane: ModelLane, recorder: Recorder) -> None:
        for i in range(5):
            lane.submit("predict", recorder.job(f"p{i}"))
            await until(lambda i=i: len(recorder.finished) == i + 1)
        assert lane.runs_inline("predict")

    recorder = run(scenario, proven_after=3)
    loop_thread = threading.current_thread().name  # asyncio.run runs the loop here
    threads = [thread for _, thread in recorder.ran]
    assert threads[:3] == ["model-lane"] * 3
    assert threads[3:] == [loop_thread] * 2
    assert recorder.finished == [(f"p{i}", f"p{i}") for i in range(5)]


def test_one_slow_run_sends_a_method_back_to_the_thread() -> None:
    async def scenario(lane: ModelLane, recorder: Recorder) -> None:
        for i in range(2):
            lane.submit("m", recorder.job(f"quick{i}"))
            await until(lambda i=i: len(recorder.finished) == i + 1)
        assert lane.runs_inline("m")
        lane.submit("m", recorder.job("slow", cost=0.05))  # inline, but too long
        assert not lane.runs_inline("m")
        lane.submit("m", recorder.job("after"))
        await until(lambda: len(recorder.finished) == 4)
        # another method keeps its own record
        assert not lane.runs_inline("other")

    recorder = run(scenario, proven_after=2, inline_limit_s=0.01)
    assert [thread == "model-lane" for _, thread in recorder.ran] == [True, True, False, True]


def test_jobs_never_overlap_and_keep_their_order() -> None:
    async def scenario(lane: ModelLane, recorder: Recorder) -> None:
        # a mix of methods, some slow enough to go to the thread, some proven quick
        for i in range(3):
            lane.submit("quick", recorder.job(f"warm{i}"))
        await until(lambda: len(recorder.finished) == 3)
        labels = []
        for i in range(30):
            method = "slow" if i % 3 == 0 else "quick"
            label = f"{method}{i}"
            labels.append(label)
            lane.submit(
                method, recorder.job(label, cost=0.01 if method == "slow" else 0, sleep=0.001)
            )
        await until(lambda: len(recorder.finished) == 33)
        assert [label for label, _ in recorder.finished[3:]] == labels

    recorder = run(scenario, proven_after=3, inline_limit_s=0.005)
    assert recorder.most_at_once == 1


def test_the_loop_answers_while_a_long_job_runs() -> None:
    async def scenario(lane: ModelLane, recorder: Recorder) -> None:
        lane.submit("long", recorder.job("long", sleep=0.5))
        started = time.monotonic()
        await asyncio.sleep(0.01)  # the loop keeps turning
        assert time.monotonic() - started < 0.4
        assert recorder.finished == []
        await until(lambda: recorder.finished == [("long", "long")])

    run(scenario)


def test_a_job_with_nothing_to_do_is_skipped() -> None:
    async def scenario(lane: ModelLane, recorder: Recorder) -> None:
        lane.submit("m", lambda: None)
        lane.submit("m", recorder.job("real"))
        await until(lambda: recorder.finished == [("real", "real")])

    run(scenario)


def test_a_failing_answer_does_not_stop_the_lane(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(lane: ModelLane, recorder: Recorder) -> None:
        def broken_finish(outcome: Any) -> None:
            raise RuntimeError("the caller went away badly")

        lane.submit("m", lambda: (lambda: 1, broken_finish))
        lane.submit("m", recorder.job("next"))
        await until(lambda: recorder.finished == [("next", "next")])

    run(scenario)
    assert "answering a runner call failed" in caplog.text


def test_jobs_submitted_from_an_answer_run_after_it() -> None:
    async def scenario(lane: ModelLane, recorder: Recorder) -> None:
        order: list[str] = []

        def first_finish(outcome: Any) -> None:
            order.append("first answered")
            lane.submit("m", lambda: (lambda: order.append("second ran"), lambda _: None))
            order.append("first done")

        lane.submit("m", lambda: (lambda: None, first_finish))
        await until(lambda: len(order) == 3)
        assert order == ["first answered", "first done", "second ran"]

    run(scenario)
    run(scenario, proven_after=0)  # the same when every job runs on the loop thread
