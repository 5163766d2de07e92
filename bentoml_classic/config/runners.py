"""``runners.*``: batching, resources and timeouts of the runners (``runners.<name>.*`` overrides
them per runner, resolved in ``loading.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from .base import _Strict
from .heap import HeapConfig
from .observability import RunnerLoggingConfig, RunnerMetricsConfig
from .triton import TritonConfig


class BatchingConfig(_Strict):
    enabled: bool = True
    #: rows in one batch; unset: 100 (classic's default), and a larger call runs whole instead
    #: of being cut into pieces of this size (``runner/policies.py``)
    max_batch_size: int | None = Field(None, gt=0)
    max_latency_ms: float = Field(10_000.0, gt=0)
    #: rows that may wait for a runner method at once; unset: no bound in rows
    max_queue_size: int | None = Field(None, gt=0)
    #: bytes of inputs that may wait for a runner method at once, in each worker; unset: a share
    #: of the machine's or the container's memory (``batching/memory.py``)
    max_queue_bytes: int | None = Field(None, gt=0)


class ResourcesConfig(_Strict):
    """What a runner may use; unset means "what this machine has" (CPUs) or none (GPUs)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    cpu: float | None = Field(None, gt=0)
    nvidia_gpu: Annotated[int, Field(ge=0)] | list[int | str] | None = Field(
        None, alias="nvidia.com/gpu"
    )


class RunnerConfig(_Strict):
    batching: BatchingConfig = BatchingConfig()
    workers_per_resource: float = Field(1.0, gt=0)
    resources: ResourcesConfig | None = None
    timeout: float = Field(300.0, gt=0)
    #: as ``api_server.scheduling_policy``, for the runner's workers; inherit by default: a
    #: runner worker on iris runs its model on the loop thread, and batch did not pay there
    scheduling_policy: Literal["batch", "inherit"] = "inherit"
    #: as ``api_server.preload``, for a runner whose workers share one environment (not one
    #: worker per GPU): they are forked from a process that imported the service module
    preload: bool = False
    #: as ``api_server.preload_libraries``, for a runner whose workers the API workers'
    #: preforking process may fork (``serving/shared_runners.py``)
    preload_libraries: bool = True
    #: as ``api_server.heap``, for the runner's workers
    heap: HeapConfig = HeapConfig()
    metrics: RunnerMetricsConfig = RunnerMetricsConfig()
    logging: RunnerLoggingConfig = RunnerLoggingConfig()
    #: a Triton runner's server (``bentoml_classic.triton``); ignored by other runners
    triton: TritonConfig = TritonConfig()
