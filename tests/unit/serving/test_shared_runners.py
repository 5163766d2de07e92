"""Which runners the API workers' preforker forks too, what it hands them, and the order in
which it stops its groups of workers (real forked processes)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np

import bentoml_classic as bentoml
from bentoml_classic.serving.deployment_plan import runner_plan
from bentoml_classic.serving.prefork import Preforker, WorkerGroup
from bentoml_classic.serving.resources import thread_env
from bentoml_classic.serving.shared_runners import SharedRunner, shares_api_environment
from bentoml_classic.serving.watchers import API_THREAD_ENV, shared_runner
from bentoml_classic.serving.worker_spec import WorkerSpec
from tests.support.configs import config_of
from tests.support.waiting import wait_for


class SingleThreaded(bentoml.Runnable):
    SUPPORTS_CPU_MULTI_THREADING = False

    @bentoml.Runnable.method(batchable=True)
    def predict(self, x: np.ndarray) -> np.ndarray:
        return x


def shared(options: str) -> tuple[SharedRunner, dict[str, str]] | None:
    config = config_of(options)
    runner = bentoml.Runner(SingleThreaded, name="model")
    return shared_runner("service:svc", "/srv", runner_plan(runner, 3, config), config, [])


def test_a_single_threaded_runner_joins_the_api_preforker_only_when_both_preload() -> None:
    joined = shared("api_server.preload=true runners.preload=true")
    assert joined is not None
    runner, env = joined
    spec = WorkerSpec(**json.loads(env[runner.spec_env]))
    assert (spec.runner, spec.target, runner.spec_env) == (
        "model",
        "service:svc",
        "BENTOML_WORKER_SPEC_RUNNER_3",
    )
    assert set(spec.batch_policies) == {"predict"}
    assert shared("runners.preload=true") is None
    assert shared("api_server.preload=true") is None
    assert (
        shared("api_server.preload=true runners.preload=true runners.model.preload=false") is None
    )


def test_only_the_api_workers_environment_is_shared() -> None:
    cpu_only = {"CUDA_VISIBLE_DEVICES": "", **API_THREAD_ENV}
    assert shares_api_environment([cpu_only, cpu_only], API_THREAD_ENV)
    # thread counts are read when a library loads: a runner with more threads keeps its own
    assert not shares_api_environment([{**cpu_only, **thread_env(4)}], API_THREAD_ENV)
    # one GPU per worker: the environments differ
    gpus = [{**API_THREAD_ENV, "CUDA_VISIBLE_DEVICES": str(i)} for i in range(2)]
    assert not shares_api_environment(gpus, API_THREAD_ENV)
    # a variable the API workers set but the runner's workers would not inherit
    assert not shares_api_environment([{}], API_THREAD_ENV)


def test_a_shared_runner_travels_as_one_argument() -> None:
    runner = SharedRunner("my:model", "BENTOML_WORKER_SPEC_RUNNER_0", "5,6", 2, 24.5)
    assert SharedRunner.from_arg(runner.to_arg()) == runner
    assert runner.fd_list() == [5, 6]


def _worker(log: Path, group: str, drain_s: float) -> Any:
    def start(wid: int) -> None:
        def on_term(signum: int, frame: object) -> None:
            time.sleep(drain_s)
            with log.open("a") as out:
                out.write(f"{group}{wid} {time.monotonic()}\n")
            os._exit(0)

        signal.signal(signal.SIGTERM, on_term)
        with log.open("a") as out:
            out.write(f"up {os.getpid()}\n")
        while True:
            time.sleep(0.05)

    return start


def test_the_preforker_stops_its_groups_one_after_the_other(tmp_path: Path) -> None:
    """The API workers drain first; the runners are told to stop only once they have exited."""
    log = tmp_path / "log"
    pid = os.fork()
    if pid == 0:  # the preforker, as prefork.py's main runs it
        code = 1
        try:
            groups = [
                WorkerGroup("api", 2, _worker(log, "api", 0.5), grace_seconds=10),
                WorkerGroup("runner", 1, _worker(log, "runner", 0), grace_seconds=10),
            ]
            code = Preforker(groups, stop_on_sigint=True).run()
        finally:
            os._exit(code)
    status = None
    try:
        assert wait_for(lambda: log.exists() and log.read_text().count("up ") == 3, 30)
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:  # the test failed: the preforker and its workers, killed
            up = [line.split()[1] for line in log.read_text().splitlines() if "up " in line]
            for victim in [pid, *map(int, up)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    stopped = dict(
        line.split() for line in log.read_text().splitlines() if not line.startswith("up ")
    )
    assert set(stopped) == {"api1", "api2", "runner1"}
    assert float(stopped["runner1"]) > max(float(stopped["api1"]), float(stopped["api2"]))
