"""The framework's meters: classic's bucket helper and labels, and figures added up in the
process and written to prometheus_client later (on a timer, before ``/metrics`` reads, at once
outside an event loop), which come out exactly as if each had been written at once.

Several processes writing to one directory are tested in test_multiprocess.py.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import prometheus_client
import pytest

from bentoml_classic.metrics import builtin, meters
from bentoml_classic.metrics.builtin import (
    api_meter,
    batch_size_observer,
    exponential_buckets,
    runner_endpoint,
    runner_meter,
)
from bentoml_classic.metrics.meters import FLUSH_INTERVAL_S, flush_pending
from bentoml_classic.metrics.registry import exposition
from tests.support.metrics import parse, series, value


def test_exponential_buckets_as_classic_documented_them() -> None:
    assert exponential_buckets(0.1, 2, 5.0) == (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0)
    assert exponential_buckets(1, 2, 100) == (1, 2, 4, 8, 16, 32, 64, 100)
    assert exponential_buckets(1, 2, 64) == (1, 2, 4, 8, 16, 32, 64)


@pytest.mark.parametrize(("start", "factor", "end"), [(0, 2, 5), (5, 2, 5), (1, 1, 5)])
def test_exponential_buckets_refuse_what_never_ends(
    start: float, factor: float, end: float
) -> None:
    with pytest.raises(ValueError, match="need 0 < start < end and factor > 1"):
        exponential_buckets(start, factor, end)


def test_a_runner_methods_endpoint_is_its_path_in_classics_runner_app() -> None:
    assert runner_endpoint("predict") == "/predict"
    assert runner_endpoint("__call__") == "/"


def figure(name: str, **labels: str) -> float:
    return value(parse(exposition().decode()), name, **labels)


DURATIONS = [0.001, 0.004, 0.005, 0.02, 0.3, 0.3, 4.0, 12.0]


def test_pending_figures_come_out_as_direct_writes_would() -> None:
    meter = api_meter("/pending", "pending_svc", namespace="pending_api")
    reference = prometheus_client.Histogram(
        "reference_durations", "Observed one by one", buckets=builtin.DEFAULT_DURATION_BUCKETS
    )
    labels = {"endpoint": "/pending", "http_response_code": "200"}

    async def serve() -> tuple[float, float]:
        for seconds in DURATIONS:
            meter.enter()
            meter.leave(200, seconds)
            reference.observe(seconds)
        meter.enter()  # one still in progress
        waiting = figure("pending_api_request_total", **labels)
        flush_pending()
        return waiting, figure("pending_api_request_in_progress", endpoint="/pending")

    waiting, in_progress = asyncio.run(serve())
    assert waiting == 0  # nothing written until a flush
    assert in_progress == 1
    assert figure("pending_api_request_total", **labels) == len(DURATIONS)
    samples = parse(exposition().decode())
    mine = {
        (name.removeprefix("pending_api_request_duration_seconds"), found.get("le"), number)
        for name, found, number in samples
        if name.startswith("pending_api_request_duration_seconds")
        and found.get("endpoint") == "/pending"
        and not name.endswith("_created")
    }
    theirs = {
        (name.removeprefix("reference_durations"), found.get("le"), number)
        for name, found, number in samples
        if name.startswith("reference_durations") and not name.endswith("_created")
    }
    assert mine == theirs


def test_outside_an_event_loop_every_change_is_written_at_once() -> None:
    meter = api_meter("/direct", "direct_svc", namespace="direct_api")
    meter.enter()
    assert figure("direct_api_request_in_progress", endpoint="/direct") == 1
    meter.leave(200, 0.01)
    assert figure("direct_api_request_total", endpoint="/direct") == 1
    assert figure("direct_api_request_in_progress", endpoint="/direct") == 0


def test_a_runners_meter_labels_as_classics_runner_app_did() -> None:
    meter = runner_meter("labelled_runner", "__call__", "labelled_svc")

    async def serve() -> None:
        meter.enter()
        meter.leave(503, 0.01)
        flush_pending()

    asyncio.run(serve())
    samples = parse(exposition().decode())
    [labels] = series(samples, "bentoml_runner_request_total", runner_name="labelled_runner")
    assert labels == {
        "endpoint": "/",
        "http_response_code": "503",
        "runner_name": "labelled_runner",
        "service_name": "labelled_svc",
        "service_version": "not available",
    }


def test_the_timer_writes_what_waits() -> None:
    meter = api_meter("/timed", "timed_svc", namespace="timed_api")

    async def serve() -> float:
        meter.enter()
        meter.leave(200, 0.01)
        deadline = asyncio.get_running_loop().time() + 10
        while figure("timed_api_request_total", endpoint="/timed") == 0:
            assert asyncio.get_running_loop().time() < deadline, "never written"
            await asyncio.sleep(FLUSH_INTERVAL_S / 5)
        return figure("timed_api_request_total", endpoint="/timed")

    assert asyncio.run(serve()) == 1


def test_flush_pending_leaves_the_meters_of_another_loop_alone() -> None:
    meter = api_meter("/other_loop", "other_svc", namespace="other_loop_api")

    async def record() -> None:
        meter.enter()
        meter.leave(200, 0.01)

    async def flush_elsewhere() -> None:
        flush_pending()

    with asyncio.Runner() as recording:
        recording.run(record())
        asyncio.run(flush_elsewhere())  # another loop: not its figures to write
        assert figure("other_loop_api_request_total", endpoint="/other_loop") == 0
        recording.run(flush_elsewhere())
        assert figure("other_loop_api_request_total", endpoint="/other_loop") == 1


class ObservesOnly:
    """A histogram child without prometheus_client's internals."""

    def __init__(self) -> None:
        self.observed: list[float] = []

    def observe(self, amount: float) -> None:
        self.observed.append(amount)


def test_a_child_without_the_expected_internals_gets_each_observation() -> None:
    child: Any = ObservesOnly()
    pending = meters._PendingHistogram(child)
    for amount in (1.0, 3.0, math.inf):
        pending.add(amount)
    assert child.observed == []
    pending.write()
    assert child.observed == [1.0, 3.0, math.inf]


def test_a_runner_workers_batch_sizes_wait_for_a_flush() -> None:
    observer = batch_size_observer("deferred_runner", "predict", "svc", "1", 8, deferred=True)
    name = "bentoml_runner_adaptive_batch_size"

    async def run_batches() -> float:
        for rows in (1, 3, 8):
            observer.observe(rows)
        waiting = figure(f"{name}_count", runner_name="deferred_runner")
        flush_pending()
        return waiting

    assert asyncio.run(run_batches()) == 0
    assert figure(f"{name}_count", runner_name="deferred_runner") == 3
    assert figure(f"{name}_sum", runner_name="deferred_runner") == 12
