"""What ``@bentoml.service(...)`` and ``@bentoml.api(...)`` record, checked when the class is
decorated, so that a typo in a key fails on import and not when a worker starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..exceptions import InvalidArgument

TRAFFIC_KEYS = ("timeout", "max_concurrency")
RESOURCE_KEYS = ("cpu", "memory", "gpu", "gpu_type")


def _checked_keys(what: str, given: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise InvalidArgument(f"{what} takes a dict with keys {list(allowed)}, got {given!r}")
    unknown = sorted(str(key) for key in given if key not in allowed)
    if unknown:
        raise InvalidArgument(f"{what}: unknown key(s) {unknown}; the keys are {list(allowed)}")
    return dict(given)


def _positive_number(what: str, value: Any, integer: bool = False) -> Any:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        raise InvalidArgument(f"{what} must be {kind}, got {value!r}")
    return value


def _gpu_request(value: Any) -> int | list[str]:
    """``"1"`` or ``1``: a count of GPUs; a list: the GPU ids themselves."""
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(
            f"resources['gpu'] must be a count (1 or '1') or a list of GPU ids, got {value!r}"
        )
    return value


def _cpu_threads(value: Any) -> int:
    """``"2"``, ``2``, or Kubernetes' ``"500m"`` (at least one thread)."""
    text = str(value).strip()
    try:
        cpus = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise InvalidArgument(f"resources['cpu'] must be a number of CPUs, got {value!r}") from None
    if cpus <= 0:
        raise InvalidArgument(f"resources['cpu'] must be positive, got {value!r}")
    return max(1, int(cpus))


@dataclass(frozen=True)
class ServiceOptions:
    """``@bentoml.service``'s arguments: defaults that ``services.<name>.*`` (or, for the entry
    service, ``api_server.*``) in the configuration override key by key."""

    workers: int = 1
    timeout: float | None = None
    max_concurrency: int | None = None
    #: GPUs for this service's workers: a count, or the ids; None: none asked for
    gpu: int | list[str] | None = None
    #: the thread count of numeric libraries in this service's workers; None: one
    cpu_threads: int | None = None
    #: recorded as given (``memory``, ``gpu_type``): one machine cannot check them
    recorded: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_arguments(cls, workers: Any, resources: Any, traffic: Any) -> ServiceOptions:
        traffic_d = _checked_keys("traffic", traffic, TRAFFIC_KEYS)
        resources_d = _checked_keys("resources", resources, RESOURCE_KEYS)
        timeout = traffic_d.get("timeout")
        max_concurrency = traffic_d.get("max_concurrency")
        cpu, gpu = resources_d.get("cpu"), resources_d.get("gpu")
        return cls(
            workers=_positive_number("workers", workers, integer=True),
            timeout=None if timeout is None else _positive_number("traffic timeout", timeout),
            max_concurrency=None
            if max_concurrency is None
            else _positive_number("traffic max_concurrency", max_concurrency, integer=True),
            gpu=None if gpu is None else _gpu_request(gpu),
            cpu_threads=None if cpu is None else _cpu_threads(cpu),
            recorded={k: resources_d[k] for k in ("memory", "gpu_type") if k in resources_d},
        )

    def as_plan(self) -> dict[str, Any]:
        """The options as JSON, for the supervisor (``serving/deployment_plan.py``)."""
        return {
            "workers": self.workers,
            "timeout": self.timeout,
            "max_concurrency": self.max_concurrency,
            "gpu": self.gpu,
            "cpu_threads": self.cpu_threads,
        }


@dataclass(frozen=True)
class ApiOptions:
    """``@bentoml.api``'s arguments, kept on the function until its class is decorated."""

    name: str | None = None
    route: str | None = None
    batchable: bool = False
    input_dim: int = 0
    output_dim: int = 0
    max_batch_size: int = 100
    max_latency_ms: float = 60_000.0

    @classmethod
    def from_arguments(
        cls,
        name: Any,
        route: Any,
        batchable: Any,
        batch_dim: Any,
        max_batch_size: Any,
        max_latency_ms: Any,
    ) -> ApiOptions:
        if isinstance(batch_dim, tuple) and len(batch_dim) == 2:
            input_dim, output_dim = batch_dim
        else:
            input_dim = output_dim = batch_dim
        for dim in (input_dim, output_dim):
            if isinstance(dim, bool) or not isinstance(dim, int):
                raise InvalidArgument(
                    f"batch_dim must be an int or a pair (input, output) of ints, got {batch_dim!r}"
                )
        return cls(
            name=name,
            route=route,
            batchable=bool(batchable),
            input_dim=input_dim,
            output_dim=output_dim,
            max_batch_size=_positive_number("max_batch_size", max_batch_size, integer=True),
            max_latency_ms=_positive_number("max_latency_ms", max_latency_ms),
        )
