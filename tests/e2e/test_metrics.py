"""``/metrics`` of real deployments: `bentoml serve` with 2 API workers and a runner with 2
workers, `--development`, and the two tiers started apart.

The output is read with prometheus_client's parser, as a Prometheus server reads it. An API
worker writes its request figures a few times a second (metrics/meters.py), so the tests wait
for totals to arrive rather than expect them at once; what they wait for is exact.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.metrics import Samples, parse, series, value
from tests.support.process_roles import workers_by_role
from tests.support.servers import E2E_SERVICES, serve_subprocess
from tests.support.waiting import wait_for

SERVICE = ["metrics_service:svc"]
API = "bentoml_api_server_request"
RUNNER = "bentoml_runner_request"


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.text)


def figures(url: str) -> dict[str, float]:
    """The figures the tests follow, summed over every worker."""
    samples = scrape(url)
    api = {"endpoint": "/greet", "http_response_code": "200", "service_name": "metrics_service"}
    runner = {"endpoint": "/greet", "http_response_code": "200", "runner_name": "greeter"}
    return {
        "api": value(samples, f"{API}_total", **api),
        "api_durations": value(samples, f"{API}_duration_seconds_count", **api),
        "runner": value(samples, f"{RUNNER}_total", **runner),
        "runner_durations": value(samples, f"{RUNNER}_duration_seconds_count", **runner),
        "greetings": value(samples, "greetings_total", language="en"),
        "name_lengths": value(samples, "name_lengths_count"),
        "short_names": value(samples, "name_lengths_bucket", le="4.0"),
        "api_in_progress": value(samples, f"{API}_in_progress", endpoint="/greet"),
        "runner_in_progress": value(samples, f"{RUNNER}_in_progress", endpoint="/greet"),
    }


def counted(total: int, short: int, runner_side: bool = True) -> dict[str, float]:
    expected = {
        "api": total,
        "api_durations": total,
        "runner": total,
        "runner_durations": total,
        "greetings": total,
        "name_lengths": total,
        "short_names": short,
        "api_in_progress": 0,
        "runner_in_progress": 0,
    }
    if not runner_side:  # the runner runs in the API's process: no runner requests
        expected.update(runner=0, runner_durations=0)
    return expected


def wait_for_figures(url: str, expected: dict[str, float]) -> None:
    found: dict[str, float] = {}

    def arrived() -> bool:
        found.update(figures(url))
        return found == expected

    assert wait_for(arrived, 15, interval=0.1), f"{found} != {expected}"


def greet(url: str, name: str) -> dict[str, int]:
    response = httpx.post(f"{url}/greet", json={"name": name}, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, int] = response.json()
    return answer


def workers(arbiter_pid: int) -> dict[str, set[int]]:
    return {
        role: {process.pid for process in processes}
        for role, processes in workers_by_role(arbiter_pid).items()
    }


@pytest.fixture
def production(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    pid_file = tmp_path / "hold.pid"
    env = {
        "BENTOML_HOME": str(tmp_path / "home"),
        "BENTOML_CONFIG_OPTIONS": "runners.resources.cpu=2",  # two runner workers
        "HOLD_PID_FILE": str(pid_file),
    }
    args = [*SERVICE, "--api-workers", "2"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env) as (url, process):
        assert wait_for(
            lambda: (
                {k: len(v) for k, v in workers(process.pid).items()}
                == {
                    "api": 2,
                    "runner": 2,
                }
            )
        )
        yield url, process.pid, pid_file


def test_totals_cover_every_worker_and_survive_a_killed_one(
    production: tuple[str, int, Path],
) -> None:
    url, arbiter, _ = production
    names = ["al", "bo", "christopher", "dominique"] * 6  # 12 of at most 4 letters
    answers = [greet(url, name) for name in names]
    wait_for_figures(url, counted(24, 12))

    # a worker that has served requests dies; its replacement starts from nothing
    before = workers(arbiter)
    served_api = {a["api_pid"] for a in answers} & before["api"]
    served_runner = {a["runner_pid"] for a in answers} & before["runner"]
    assert served_api and served_runner
    for pid in (min(served_api), min(served_runner)):
        os.kill(pid, signal.SIGKILL)

    def replaced() -> bool:
        now = workers(arbiter)
        return all(len(now[role]) == 2 and now[role] != before[role] for role in now)

    assert wait_for(replaced, 30)
    assert wait_for(lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200, 30)
    wait_for_figures(url, counted(24, 12))  # what the dead ones counted is still counted
    for name in ["eve", "francesca"] * 3:
        greet(url, name)
    wait_for_figures(url, counted(30, 15))


def test_a_dead_workers_requests_in_progress_are_forgotten(
    production: tuple[str, int, Path],
) -> None:
    url, arbiter, pid_file = production

    def held() -> None:
        # the worker holding it is killed: no answer comes
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{url}/hold", json={"seconds": 60}, timeout=90)

    holder = threading.Thread(target=held, daemon=True)
    holder.start()

    def in_progress() -> float:
        return value(scrape(url), f"{API}_in_progress", endpoint="/hold")

    assert wait_for(lambda: in_progress() == 1 and pid_file.exists(), 15, interval=0.1)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    # the arbiter's reap hook drops the dead worker's gauge; without it, 1 for ever
    assert wait_for(lambda: in_progress() == 0, 15, interval=0.1)
    holder.join(timeout=90)
    assert not holder.is_alive()
    assert len(workers(arbiter)["api"]) == 2 or wait_for(
        lambda: len(workers(arbiter)["api"]) == 2, 30
    )


def test_the_exposition_lists_classic_families(production: tuple[str, int, Path]) -> None:
    url, _, _ = production
    greet(url, "al")
    wait_for_figures(url, counted(1, 1))
    samples = scrape(url)
    [api_series] = series(samples, f"{API}_total", endpoint="/greet")
    assert api_series == {
        "endpoint": "/greet",
        "http_response_code": "200",
        "service_name": "metrics_service",
        "service_version": "not available",
    }
    [runner_series] = series(samples, f"{RUNNER}_total", endpoint="/greet")
    assert runner_series["runner_name"] == "greeter"
    assert "pid" not in runner_series  # summed over the runner's workers


def test_development_mode_counts_in_its_one_process(tmp_path: Path) -> None:
    env = {"BENTOML_HOME": str(tmp_path / "home"), "HOLD_PID_FILE": str(tmp_path / "pid")}
    with serve_subprocess([*SERVICE, "--development"], cwd=E2E_SERVICES, env=env) as (url, _):
        for name in ("al", "christopher", "bea"):
            greet(url, name)
        # one process: /metrics writes what it holds before reading, so nothing to wait for
        assert figures(url) == counted(3, 2, runner_side=False)


def test_two_tiers_started_apart_show_the_runners_figures_on_the_http_tier(
    tmp_path: Path,
) -> None:
    env = {
        "BENTOML_HOME": str(tmp_path / "home"),
        "BENTOML_RUNNER_TOKEN": "metrics over the runner protocol",
        "HOLD_PID_FILE": str(tmp_path / "pid"),
    }
    runner_args = [*SERVICE, "--runner-name", "greeter"]
    with serve_subprocess(
        runner_args, cwd=E2E_SERVICES, env=env, command="start-runner-server", ready_path=""
    ) as (runner_url, runner_process):
        address = runner_url.replace("http://", "tcp://")
        assert wait_for(lambda: len(workers(runner_process.pid)["runner"]) >= 1, 60)
        http_args = [*SERVICE, "--runner-map", f'{{"greeter": "{address}"}}']
        with serve_subprocess(
            http_args, cwd=E2E_SERVICES, env=env, command="start-http-server"
        ) as (url, _):
            for name in ("al", "christopher"):
                greet(url, name)
            # the runner's own figures (its requests, what its runnable observed) come from
            # the runner server over the runner protocol, merged into one exposition
            wait_for_figures(url, counted(2, 1))
