"""How many workers a runner gets and the environment each one starts with."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bentoml_classic.config import RunnerConfig, build_config
from bentoml_classic.exceptions import BentoMLConfigException
from bentoml_classic.runner import Runnable
from bentoml_classic.serving.resources import (
    GPU,
    THREAD_COUNT_VARIABLES,
    available_cpus,
    thread_env,
    worker_envs,
)


class SingleThreaded(Runnable):
    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = False

    @Runnable.method
    def predict(self, x: Any) -> Any:
        return x


class MultiThreaded(Runnable):
    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = True

    @Runnable.method
    def predict(self, x: Any) -> Any:
        return x


class GpuOrCpu(Runnable):
    SUPPORTED_RESOURCES = (GPU, "cpu")
    SUPPORTS_CPU_MULTI_THREADING = True

    @Runnable.method
    def predict(self, x: Any) -> Any:
        return x


class GpuOnly(Runnable):
    SUPPORTED_RESOURCES = (GPU,)
    SUPPORTS_CPU_MULTI_THREADING = False

    @Runnable.method
    def predict(self, x: Any) -> Any:
        return x


def config(**options: Any) -> RunnerConfig:
    return build_config({"runners": options}).runners


def threads_of(env: dict[str, str]) -> int:
    values = {env[name] for name in THREAD_COUNT_VARIABLES}
    assert len(values) == 1, f"thread-count variables disagree: {env}"
    return int(values.pop())


def test_thread_env() -> None:
    env = thread_env(3)
    assert set(THREAD_COUNT_VARIABLES) <= set(env)
    assert "OMP_NUM_THREADS" in env and "MKL_NUM_THREADS" in env
    assert threads_of(env) == 3
    assert env["TF_NUM_INTEROP_THREADS"] == "1"
    assert threads_of(thread_env(0)) == 1


def test_available_cpus() -> None:
    assert available_cpus() >= 1


def test_multi_threaded_default_is_one_worker_with_every_cpu() -> None:
    envs = worker_envs(MultiThreaded, config())
    assert len(envs) == 1
    assert threads_of(envs[0]) == available_cpus()
    assert envs[0]["CUDA_VISIBLE_DEVICES"] == ""


def test_single_threaded_default_is_one_worker_per_cpu() -> None:
    envs = worker_envs(SingleThreaded, config())
    assert len(envs) == available_cpus()
    for env in envs:
        assert threads_of(env) == 1
        assert env["CUDA_VISIBLE_DEVICES"] == ""


@pytest.mark.parametrize(
    ("runnable", "options", "workers", "threads"),
    [
        (SingleThreaded, {"resources": {"cpu": 4}}, 4, 1),
        (MultiThreaded, {"resources": {"cpu": 4}}, 1, 4),
        (SingleThreaded, {"resources": {"cpu": 4}, "workers_per_resource": 2}, 8, 1),
        (MultiThreaded, {"resources": {"cpu": 4}, "workers_per_resource": 2}, 2, 2),
        (MultiThreaded, {"resources": {"cpu": 3}, "workers_per_resource": 2}, 2, 1),
        (SingleThreaded, {"resources": {"cpu": 0.5}}, 1, 1),
        (SingleThreaded, {"resources": {"cpu": 3}, "workers_per_resource": 0.5}, 2, 1),
        (MultiThreaded, {"resources": {"cpu": 1.5}}, 1, 1),
        (SingleThreaded, {"resources": {"cpu": "2"}}, 2, 1),
    ],
)
def test_cpu_workers(
    runnable: type[Runnable], options: dict[str, Any], workers: int, threads: int
) -> None:
    envs = worker_envs(runnable, config(**options))
    assert len(envs) == workers
    for env in envs:
        assert threads_of(env) == threads
        assert env["CUDA_VISIBLE_DEVICES"] == ""


def test_each_worker_gets_its_own_environment() -> None:
    envs = worker_envs(SingleThreaded, config(resources={"cpu": 2}))
    envs[0]["OMP_NUM_THREADS"] = "99"
    assert envs[1]["OMP_NUM_THREADS"] == "1"


@pytest.mark.parametrize(
    ("gpus", "per_resource", "visible"),
    [
        (1, 1, ["0"]),
        (2, 1, ["0", "1"]),
        ([1, 3], 1, ["1", "3"]),
        (["GPU-abc", "GPU-def"], 1, ["GPU-abc", "GPU-def"]),
        (2, 2, ["0", "0", "1", "1"]),
        ([2], 3, ["2", "2", "2"]),
    ],
)
def test_gpu_workers(gpus: Any, per_resource: float, visible: list[str]) -> None:
    envs = worker_envs(GpuOrCpu, config(resources={GPU: gpus}, workers_per_resource=per_resource))
    assert [env["CUDA_VISIBLE_DEVICES"] for env in envs] == visible
    for env in envs:
        assert threads_of(env) == 1


def test_gpu_only_runnable_on_gpus() -> None:
    envs = worker_envs(GpuOnly, config(resources={GPU: [0, 1]}))
    assert [env["CUDA_VISIBLE_DEVICES"] for env in envs] == ["0", "1"]


def test_runner_override_picks_gpus_for_one_runner() -> None:
    full = build_config(
        {"runners": {"resources": {"cpu": 2}, "gpu_runner": {"resources": {GPU: 1}}}}
    )
    assert [
        e["CUDA_VISIBLE_DEVICES"] for e in worker_envs(GpuOrCpu, full.runner("gpu_runner"))
    ] == ["0"]
    cpu_envs = worker_envs(GpuOrCpu, full.runner("other"))
    assert [e["CUDA_VISIBLE_DEVICES"] for e in cpu_envs] == [""]
    assert threads_of(cpu_envs[0]) == 2


@pytest.mark.parametrize("gpus", [None, 0, []])
def test_gpu_runnable_without_gpus_runs_on_cpu(gpus: Any) -> None:
    envs = worker_envs(GpuOrCpu, config(resources={"cpu": 2, GPU: gpus}))
    assert len(envs) == 1
    assert envs[0]["CUDA_VISIBLE_DEVICES"] == ""
    assert threads_of(envs[0]) == 2


def test_cpu_runnable_never_sees_configured_gpus() -> None:
    envs = worker_envs(SingleThreaded, config(resources={"cpu": 2, GPU: 2}))
    assert [env["CUDA_VISIBLE_DEVICES"] for env in envs] == ["", ""]


@pytest.mark.parametrize("resources", [None, {"cpu": 4}, {GPU: 0}])
def test_gpu_only_runnable_without_gpus_is_a_config_error(resources: Any) -> None:
    with pytest.raises(BentoMLConfigException) as caught:
        worker_envs(GpuOnly, config(resources=resources))
    assert "GpuOnly" in str(caught.value)
    assert GPU in str(caught.value)


@pytest.mark.parametrize("gpus", ["two", 1.5, {"id": 0}])
def test_invalid_gpu_setting(gpus: Any) -> None:
    with pytest.raises(BentoMLConfigException, match=re.escape(GPU)):
        worker_envs(GpuOrCpu, config(resources={GPU: gpus}))


# Regression test (a bug, fixed since): `runners.resources` accepts any key and worker_envs ignores
# the ones it does not know, so a typo (`cpus`, `nvidia.com/gpus`) or an unsupported resource
# silently falls back to the defaults (resources.py, worker_envs; config, RunnerConfig.resources
# is dict[str, Any]). DESIGN §6: unknown keys are an error that names the key.
@pytest.mark.parametrize("key", ["cpus", "nvidia.com/gpus", "google.com/tpu"])
def test_unknown_resource_is_a_config_error(key: str) -> None:
    with pytest.raises(BentoMLConfigException) as caught:
        worker_envs(SingleThreaded, config(resources={key: 2}))
    assert key in str(caught.value)


# Regression: a negative GPU count passed validation and silently meant "no GPU" (CPU workers
# instead); it is now a configuration error that names the key.
def test_negative_gpu_count_is_a_config_error() -> None:
    with pytest.raises(BentoMLConfigException, match=re.escape(GPU)):
        worker_envs(GpuOrCpu, config(resources={GPU: -1}))
