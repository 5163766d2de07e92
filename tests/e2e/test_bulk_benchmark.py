"""The bulk benchmark compares like with like: for every workload body it sends, the
bentoml_classic service and both raw apps answer 200 with the same numbers.

A benchmark whose sides computed different things, or whose bentoml side answered errors that
wrk only counts, would print ratios that mean nothing; this checks its three servers once,
really started, with the benchmark's own bodies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.benchmarks.bulk_workloads import Workload, workloads
from tests.benchmarks.harness import REPO, server, uvicorn_command
from tests.support.servers import free_port, serve_subprocess

BENCHMARKS = REPO / "tests" / "benchmarks"
WORKLOADS = workloads()


def post(url: str, workload: Workload) -> np.ndarray:
    response = httpx.post(
        f"{url}{workload.path}",
        content=workload.body,
        headers={"content-type": workload.content_type},
        timeout=60,
    )
    assert response.status_code == 200, response.text[:500]
    return np.asarray(response.json(), dtype=np.float64)


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"BENTOML_HOME": str(tmp_path_factory.mktemp("bentoml_home"))}
    with serve_subprocess(["bulk_service:svc", "--api-workers", "1"], cwd=BENCHMARKS, env=env) as (
        url,
        _,
    ):
        yield url


@contextlib.contextmanager
def raw_app(library: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = uvicorn_command("raw_bulk_app:app", port, workers=1)
    probe = WORKLOADS[0]
    env = {"RAW_BULK_JSON": library}
    with server(command, BENCHMARKS, env, f"{url}{probe.path}", body=probe.body):
        yield url


def test_the_workloads_are_the_sizes_the_issue_measured() -> None:
    sizes = {w.path: len(w.body) for w in WORKLOADS}
    assert 110_000 < sizes["/records"] < 116_000  # "113 KB of JSON"
    assert workloads() == WORKLOADS  # seeded: the same bytes on every call


def test_ours_and_the_raw_app_answer_every_workload_alike(ours: str) -> None:
    """The hand-written app; the limit app differs only in its JSON library (orjson, which the
    test environment does not install)."""
    with raw_app("json") as raw:
        for workload in WORKLOADS:
            expected = post(raw, workload)
            got = post(ours, workload)
            assert got.shape == expected.shape, workload.name
            # float32 results may be rendered with float32's or float64's shortest digits
            np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=workload.name)
