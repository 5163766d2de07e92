"""``GET /metrics`` of an app served in one process: classic's request metrics per API route
and status, batch sizes of a runner that runs in the process, user metrics, the
``api_server.metrics`` keys. The figures of this test process are shared by every app it
served, so each test compares what it reads after its requests with what it read before.

Several processes (the production topology) are tested in tests/e2e/test_metrics.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

import bentoml_classic as bentoml
from bentoml_classic.http.app import build_app
from bentoml_classic.io import NumpyNdarray
from tests.support.configs import config_of
from tests.support.metrics import Samples, families, parse, series, value
from tests.support.servers import live_server

REQUESTS = "bentoml_api_server_request"
BATCH_SIZE = "bentoml_runner_adaptive_batch_size"


class Metered(bentoml.Runnable):
    @bentoml.Runnable.method(batchable=True)
    def double(self, x: np.ndarray) -> np.ndarray:
        return x * 2

    @bentoml.Runnable.method
    def plain(self, x: np.ndarray) -> np.ndarray:
        return x


def metered_service() -> bentoml.Service:
    runner = bentoml.Runner(Metered, name="metered")
    svc = bentoml.Service("metered_service", runners=[runner])
    predictions = bentoml.metrics.Counter(
        "metered_predictions", "Rows predicted, by API", labelnames=["api"]
    )

    @svc.api(input=NumpyNdarray(dtype="float64"), output=NumpyNdarray())
    def double(x: np.ndarray) -> np.ndarray:
        predictions.labels(api="double").inc(len(x))
        return runner.double.run(x)

    @svc.api(input=NumpyNdarray(dtype="float64"), output=NumpyNdarray(), route="/v1/adouble")
    async def adouble(x: np.ndarray) -> np.ndarray:
        return await runner.double.async_run(x)

    @svc.api(input=NumpyNdarray(dtype="float64"), output=NumpyNdarray())
    def plain(x: np.ndarray) -> np.ndarray:
        return runner.plain.run(x)

    return svc


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with live_server(build_app(metered_service())) as base_url:
        yield base_url


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.text)


def requests_to(samples: Samples, route: str, status: str, sample: str = "total") -> float:
    labels = {"endpoint": route, "http_response_code": status}
    return value(samples, f"{REQUESTS}_{sample}", service_name="metered_service", **labels)


def test_requests_are_counted_per_route_and_status(url: str) -> None:
    before = scrape(url)
    for _ in range(3):
        assert httpx.post(f"{url}/double", json=[1.0]).status_code == 200
    assert httpx.post(f"{url}/v1/adouble", json=[1.0]).status_code == 200
    assert httpx.post(f"{url}/double", content=b"[1,").status_code == 400
    after = scrape(url)

    def counted(route: str, status: str, sample: str = "total") -> float:
        return requests_to(after, route, status, sample) - requests_to(
            before, route, status, sample
        )

    assert counted("/double", "200") == 3
    assert counted("/double", "200", "duration_seconds_count") == 3
    assert counted("/double", "400") == 1
    assert counted("/v1/adouble", "200") == 1  # the route, as a client calls it
    [labels] = series(
        after, f"{REQUESTS}_total", endpoint="/v1/adouble", service_name="metered_service"
    )
    assert labels["service_version"] == "not available"  # served from a module, not a bento
    assert value(after, f"{REQUESTS}_in_progress", endpoint="/double") == 0
    kinds = families(httpx.get(f"{url}/metrics").text)
    assert kinds[REQUESTS] == "counter"  # the parser names a counter without _total
    assert kinds[f"{REQUESTS}_duration_seconds"] == "histogram"
    assert kinds[f"{REQUESTS}_in_progress"] == "gauge"


def test_durations_fall_in_classic_default_buckets(url: str) -> None:
    assert httpx.post(f"{url}/double", json=[1.0]).status_code == 200
    bounds = {
        labels["le"]
        for labels in series(scrape(url), f"{REQUESTS}_duration_seconds_bucket", endpoint="/double")
    }
    assert bounds == {
        *(str(b) for b in (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0)),
        *("2.5", "5.0", "7.5", "10.0", "+Inf"),
    }


def test_probes_and_unknown_paths_make_no_series(url: str) -> None:
    for path in ("/healthz", "/readyz", "/docs.json", "/no/such/path"):
        httpx.get(f"{url}{path}")
    mine = series(scrape(url), f"{REQUESTS}_total", service_name="metered_service")
    endpoints = {labels["endpoint"] for labels in mine}
    assert endpoints <= {"/double", "/v1/adouble", "/plain"}


def test_batch_sizes_of_a_runner_in_the_process(url: str) -> None:
    labels = {"runner_name": "metered", "method_name": "double", "worker_index": "local"}
    before = scrape(url)
    # one after another, so each call is a batch of its own rows
    for route, body in [("double", [1.0]), ("v1/adouble", [[1, 2], [3, 4], [5, 6]])]:
        assert httpx.post(f"{url}/{route}", json=body).status_code == 200
    assert httpx.post(f"{url}/plain", json=[1]).status_code == 200
    after = scrape(url)
    for sample, expected in (("count", 2), ("sum", 4)):
        name = f"{BATCH_SIZE}_{sample}"
        assert value(after, name, **labels) - value(before, name, **labels) == expected
    [found] = series(after, f"{BATCH_SIZE}_count", **labels)
    assert found["service_name"] == "metered_service"
    assert series(after, f"{BATCH_SIZE}_count", method_name="plain") == []  # not batchable


def test_user_metrics_are_shown(url: str) -> None:
    before = value(scrape(url), "metered_predictions_total", api="double")
    assert httpx.post(f"{url}/double", json=[1.0, 2.0]).status_code == 200
    assert value(scrape(url), "metered_predictions_total", api="double") - before == 2


def test_namespace_and_duration_buckets_come_from_the_configuration() -> None:
    config = config_of(
        "api_server.metrics.namespace=tuned_api api_server.metrics.duration.min=0.1 "
        "api_server.metrics.duration.max=5 api_server.metrics.duration.factor=2"
    )
    with live_server(build_app(metered_service(), config)) as url:
        assert httpx.post(f"{url}/plain", json=[1.0]).status_code == 200
        samples = parse(httpx.get(f"{url}/metrics").text)
    assert value(samples, "tuned_api_request_total", endpoint="/plain") >= 1
    bounds = [
        labels["le"]
        for labels in series(
            samples, "tuned_api_request_duration_seconds_bucket", endpoint="/plain"
        )
    ]
    assert bounds == ["0.1", "0.2", "0.4", "0.8", "1.6", "3.2", "5.0", "+Inf"]


def test_disabled_metrics_have_no_route_and_count_nothing() -> None:
    config = config_of("api_server.metrics.enabled=false api_server.metrics.namespace=unseen_api")
    with live_server(build_app(metered_service(), config)) as url:
        assert httpx.post(f"{url}/plain", json=[1.0]).status_code == 200
        response = httpx.get(f"{url}/metrics")
    assert response.status_code == 404  # as classic: no such route
    assert response.json()["error"]["type"] == "NotFound"
    with live_server(build_app(metered_service())) as url:
        assert "unseen_api" not in httpx.get(f"{url}/metrics").text
