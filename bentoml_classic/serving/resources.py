"""How many worker processes a runner gets, and the environment each one starts with.

Decided from what the Runnable says it can use (``SUPPORTED_RESOURCES``,
``SUPPORTS_CPU_MULTI_THREADING``) and from ``runners.resources`` / ``runners.workers_per_resource``.
The variables are set before the worker imports its framework, which reads them at import.
"""

from __future__ import annotations

import os

from ..config import ResourcesConfig, RunnerConfig
from ..exceptions import BentoMLConfigException
from ..runner.runnable import Runnable

GPU = "nvidia.com/gpu"

#: variables the numeric libraries read at import time to size their thread pools
THREAD_COUNT_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
)


def thread_env(threads: int) -> dict[str, str]:
    env = dict.fromkeys(THREAD_COUNT_VARIABLES, str(max(1, threads)))
    env["TF_NUM_INTEROP_THREADS"] = "1"
    return env


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _gpu_ids(value: object) -> list[str]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [str(i) for i in range(value)]
    if isinstance(value, list):
        return [str(item) for item in value]
    raise BentoMLConfigException(f"runners.resources.{GPU} must be a count or a list of GPU ids")


def worker_envs(runnable: type[Runnable], config: RunnerConfig) -> list[dict[str, str]]:
    """One environment per worker process of this runner."""
    resources = config.resources or ResourcesConfig()
    per_resource = config.workers_per_resource
    gpus = _gpu_ids(resources.nvidia_gpu)
    if gpus and GPU in runnable.SUPPORTED_RESOURCES:
        copies = max(1, round(per_resource))
        return [
            {"CUDA_VISIBLE_DEVICES": gpu, **thread_env(1)} for gpu in gpus for _ in range(copies)
        ]
    if "cpu" not in runnable.SUPPORTED_RESOURCES:
        raise BentoMLConfigException(
            f"{runnable.__name__} supports only {list(runnable.SUPPORTED_RESOURCES)}, and "
            f"none of those is configured (runners.resources)"
        )
    cpus = float(resources.cpu or available_cpus())
    # CPU workers never see a GPU, so a framework cannot grab one behind the scheduler's back.
    if runnable.SUPPORTS_CPU_MULTI_THREADING:
        workers = max(1, round(per_resource))
        threads = max(1, int(cpus // workers))
    else:
        workers = max(1, round(cpus * per_resource))
        threads = 1
    return [{"CUDA_VISIBLE_DEVICES": "", **thread_env(threads)} for _ in range(workers)]
