"""Adaptive batching in the production topology: real API workers, a real runner worker.

The runner's methods refuse any batch above ``MAX_BATCH`` rows, so a bound that slipped would
show as a 500; ``/metrics`` tells how the calls were actually batched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.metrics import parse, series, value
from tests.support.servers import E2E_SERVICES, serve_subprocess

SERVICE = ["batching_service:svc", "--api-workers", "2"]


def batch_histogram(url: str, method: str) -> dict[str, float]:
    """Cumulative bucket counts by bound, plus 'sum' and 'count', summed over runner workers."""
    samples = parse(httpx.get(f"{url}/metrics", timeout=10).text)
    name = "bentoml_runner_adaptive_batch_size"
    labels = {"runner_name": "doubler", "method_name": method}
    found = {kind: value(samples, f"{name}_{kind}", **labels) for kind in ("sum", "count")}
    for bucket in series(samples, f"{name}_bucket", **labels):
        bound = bucket["le"]
        found[bound] = value(samples, f"{name}_bucket", le=bound, **labels)
    return found


def concurrently(count: int, send: Callable[[httpx.Client, int], httpx.Response]) -> list:
    """``send(client, i)`` for i in range(count), all released at once; responses in i order."""
    responses: list[httpx.Response | BaseException | None] = [None] * count
    barrier = threading.Barrier(count)

    def worker(i: int) -> None:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            try:
                responses[i] = send(client, i)
            except httpx.HTTPError as exc:
                responses[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@pytest.fixture
def batching_server(tmp_path: Path) -> Iterator[str]:
    env = {"BENTOML_HOME": str(tmp_path / "home"), "MAX_BATCH": "8", "BATCH_SLEEP": "0.02"}
    with serve_subprocess(SERVICE, cwd=E2E_SERVICES, env=env) as (url, _):
        yield url


@pytest.mark.parametrize("route", ["double", "async_double"])
def test_concurrent_calls_are_batched_and_answered_in_order(
    batching_server: str, route: str
) -> None:
    url = batching_server
    before = batch_histogram(url, "double")
    count = 40
    responses = concurrently(
        count, lambda client, i: client.post(f"{url}/{route}", json=[[i, i + 0.5], [-i, 7]])
    )
    for i, response in enumerate(responses):
        assert isinstance(response, httpx.Response), response
        assert response.status_code == 200, response.text
        assert response.json() == [[2 * i, 2 * i + 1], [-2 * i, 14]]
    after = batch_histogram(url, "double")
    batches = after["count"] - before.get("count", 0)
    rows = after["sum"] - before.get("sum", 0)
    assert rows == 2 * count
    assert batches < count, "no two calls ever shared a batch"
    # nothing above max_batch_size: every batch is in the buckets up to 8
    assert after["8.0"] == after["+Inf"]


def test_tuple_outputs_are_split_per_caller(batching_server: str) -> None:
    url = batching_server
    responses = concurrently(12, lambda client, i: client.post(f"{url}/pair", json=[i]))
    for i, response in enumerate(responses):
        assert isinstance(response, httpx.Response), response
        assert response.status_code == 200, response.text
        assert response.json() == {"doubled": [2 * i], "plus_one": [i + 1]}


def test_a_call_larger_than_max_batch_size_is_split(batching_server: str) -> None:
    url = batching_server
    before = batch_histogram(url, "double")
    rows = [[float(i)] for i in range(21)]
    response = httpx.post(f"{url}/double", json=rows, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == [[2.0 * i] for i in range(21)]
    after = batch_histogram(url, "double")
    assert after["count"] - before.get("count", 0) == 3  # 8 + 8 + 5 rows
    assert after["8.0"] == after["+Inf"]


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("runners.batching.max_queue_size=2", "rows waiting, limit 2"),
        # one float64 row: the queue holds a call beyond the one it took unmeasured
        ("runners.batching.max_queue_bytes=8", "would exceed its memory bound"),
    ],
)
def test_a_full_queue_sheds_with_503_and_retry_after(
    tmp_path: Path, option: str, says: str
) -> None:
    env = {
        "BENTOML_HOME": str(tmp_path / "home"),
        "MAX_BATCH": "2",
        "BATCH_SLEEP": "0.3",
        "BENTOML_CONFIG_OPTIONS": option,
    }
    with serve_subprocess(SERVICE, cwd=E2E_SERVICES, env=env) as (url, _):
        responses = concurrently(
            24, lambda client, i: client.post(f"{url}/async_double", json=[float(i)])
        )
        statuses = [r.status_code for r in responses if isinstance(r, httpx.Response)]
        assert len(statuses) == 24, responses
        assert set(statuses) == {200, 503}, statuses
        for i, response in enumerate(responses):
            if response.status_code == 200:
                assert response.json() == [2.0 * i]
            else:
                assert response.headers["retry-after"] == "1"
                error = response.json()["error"]
                assert error["type"] == "ServiceUnavailable"
                assert "queue is full" in error["message"]
                assert says in error["message"]
        # shedding is not a failure of the server: it answers normally again
        response = httpx.post(f"{url}/double", json=[1.5], timeout=30)
        assert response.status_code == 200 and response.json() == [3.0]
