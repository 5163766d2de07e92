"""How many worker processes a runner gets, and the environment each one starts with.

Decided from what the Runnable says it can use (``SUPPORTED_RESOURCES``,
``SUPPORTS_CPU_MULTI_THREADING``) and from ``runners.resources`` / ``runners.workers_per_resource``.
The variables are set before the worker imports its framework, which reads them at import.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence

from ..config import BentoMLConfig, ResourcesConfig, RunnerConfig
from ..exceptions import BentoMLConfigException
from ..runner.runnable import Runnable

logger = logging.getLogger(__name__)

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
        return [
            {"CUDA_VISIBLE_DEVICES": ",".join(group), **thread_env(1)}
            for group in _gpu_groups(gpus, per_resource)
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


def _gpu_groups(gpus: list[str], per_resource: float) -> list[list[str]]:
    """The GPUs of each worker: ``workers_per_resource`` workers on each GPU (2: two workers
    share each one), or, below 1, one worker on each group of ``1 / workers_per_resource``
    GPUs (0.5: a worker sees two)."""
    if per_resource >= 1:
        return [[gpu] for gpu in gpus for _ in range(round(per_resource))]
    size = round(1 / per_resource)
    if len(gpus) % size:
        raise BentoMLConfigException(
            f"runners.workers_per_resource {per_resource} gives each worker {size} GPUs, which "
            f"the {len(gpus)} GPU(s) of runners.resources.{GPU} ({gpus}) do not divide into"
        )
    return [gpus[i : i + size] for i in range(0, len(gpus), size)]


def machine_gpus() -> list[str] | None:
    """The GPUs this process may hand out: ``CUDA_VISIBLE_DEVICES`` when set, else the indices
    ``nvidia-smi`` lists; None when neither says (no NVIDIA driver here, say)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [gpu.strip() for gpu in visible.split(",") if gpu.strip()]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        listed = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [line.strip() for line in listed.splitlines() if line.strip()]


def hand_out_gpus(
    counted: Sequence[tuple[str, int]], explicit: set[str], pool: Sequence[str], kind: str
) -> dict[str, list[str]]:
    """The GPU ids each of ``counted`` (name, how many) gets from ``pool``, in order, skipping
    the ``explicit`` ids something has already been given by list. Once every free GPU is
    taken, counts wrap around and share, with a warning naming the ``kind`` (a runner, a
    service) that shares: what classic accepted still starts."""
    free = [gpu for gpu in pool if gpu not in explicit]
    # every GPU already given by list: counts share them all
    all_held = not free
    free = free or list(pool)
    handed: dict[str, list[str]] = {}
    cursor = 0
    for name, count in counted:
        # asking for more GPUs than exist gets each of them once
        taken = list(dict.fromkeys(free[(cursor + k) % len(free)] for k in range(count)))
        if all_held or cursor + count > len(free):
            logger.warning(
                "%s %s shares GPU(s) %s with another runner or service: together they ask "
                "for more GPUs than this machine's %d (%s)",
                kind,
                name,
                sorted(set(taken)),
                len(pool),
                ",".join(pool),
            )
        cursor += count
        handed[name] = taken
    return handed


def gpu_pool(
    counted: Sequence[tuple[str, int]],
    explicit: set[str],
    machine: Callable[[], Sequence[str] | None],
) -> list[str]:
    """The GPU ids to hand ``counted`` out from: what ``machine()`` lists, or, when it knows no
    list, ids 0, 1, ... enough for every count and every id given by list."""
    listed = machine()
    if listed is None:
        return [str(i) for i in range(sum(count for _, count in counted) + len(explicit))]
    return [str(gpu) for gpu in listed]


def listed_gpus(config: BentoMLConfig, runners: Sequence[tuple[str, type[Runnable]]]) -> set[str]:
    """The GPU ids these runners hold by list (every count is a list once ``place_gpus`` ran)."""
    ids: set[str] = set()
    for name, runnable in runners:
        resources = config.runner(name).resources
        if (
            resources is not None
            and GPU in runnable.SUPPORTED_RESOURCES
            and isinstance(resources.nvidia_gpu, list)
        ):
            ids.update(_gpu_ids(resources.nvidia_gpu))
    return ids


def place_gpus(
    config: BentoMLConfig,
    runners: Sequence[tuple[str, type[Runnable]]],
    machine: Callable[[], Sequence[str] | None] = machine_gpus,
) -> BentoMLConfig:
    """``config`` with every GPU count of these runners turned into a list of GPU ids, so that
    runners asking for a number of GPUs get different ones.

    Classic BentoML gave each runner GPUs 0..n-1, so two runners of ``nvidia.com/gpu: 2`` on a
    4-GPU machine both ran on GPUs 0 and 1 while 2 and 3 idled. Here counts are served in the
    order of the runners, from the GPUs ``machine()`` lists (``machine_gpus``, asked only when
    a count is configured; the tests give lists of their own) that no runner has yet, lists of
    ids being taken as written. Once every GPU has a runner, further counts wrap around and
    share (with a warning): what classic accepted still starts. When ``machine()`` knows no
    list, ids 0, 1, ... are handed out without a bound.
    """
    explicit: set[str] = set()
    counted: list[tuple[str, int]] = []
    for name, runnable in runners:
        resources = config.runner(name).resources
        if resources is None or GPU not in runnable.SUPPORTED_RESOURCES:
            continue
        if isinstance(resources.nvidia_gpu, list):
            explicit.update(_gpu_ids(resources.nvidia_gpu))
        elif isinstance(resources.nvidia_gpu, int) and resources.nvidia_gpu > 0:
            counted.append((name, resources.nvidia_gpu))
    if not counted:
        return config
    pool = gpu_pool(counted, explicit, machine)
    if not pool:
        raise BentoMLConfigException(
            f"runners {[name for name, _ in counted]} ask for runners.resources.{GPU}, and "
            "this machine has no GPU (nvidia-smi lists none, or CUDA_VISIBLE_DEVICES is empty)"
        )
    overrides = dict(config.runner_overrides)
    for name, taken in hand_out_gpus(counted, explicit, pool, "runner").items():
        runner_config = config.runner(name)
        assert runner_config.resources is not None  # counted only where resources are set
        resources = runner_config.resources.model_copy(update={"nvidia_gpu": taken})
        overrides[name] = runner_config.model_copy(update={"resources": resources})
    return config.model_copy(update={"runner_overrides": overrides})
