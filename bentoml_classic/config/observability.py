"""The metrics and logging sections, the API server's and the runners' (``*.metrics``,
``*.logging``)."""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any

from pydantic import Field, field_validator

from .base import _Strict

#: a metric name's prefix: what Prometheus allows in a name
_METRIC_NAMESPACE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _metric_namespace(value: str) -> str:
    if not _METRIC_NAMESPACE.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid metric name prefix")
    return value


#: prometheus_client's defaults, as classic's default configuration listed them. The same list
#: is metrics/builtin.py's ``DEFAULT_DURATION_BUCKETS``, written twice on purpose: this module
#: may not import metrics (the layers), and runner workers import metrics but not this module
#: (nor pydantic); tests/unit/test_config.py checks the two agree
_DEFAULT_DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5,
    7.5,
    10,
)


class DurationConfig(_Strict):
    """``api_server.metrics.duration``: the buckets of the request duration histogram, as a
    list, or made from ``min``, ``max`` and ``factor`` (``min``, ``min*factor``, ... ``max``)."""

    buckets: list[Annotated[float, Field(gt=0)]] = Field(
        default=list(_DEFAULT_DURATION_BUCKETS), min_length=1
    )
    min: float | None = Field(None, gt=0)
    max: float | None = Field(None, gt=0)
    factor: float | None = Field(None, gt=1)

    @field_validator("buckets")
    @classmethod
    def _ascending(cls, buckets: list[float]) -> list[float]:
        if any(later <= earlier for earlier, later in itertools.pairwise(buckets)):
            raise ValueError("buckets must be in ascending order, each larger than the last")
        return buckets

    def bounds(self) -> tuple[float, ...]:
        """The buckets' upper bounds, without +Inf."""
        if self.min is None:
            return tuple(self.buckets)
        assert self.max is not None and self.factor is not None
        bounds: list[float] = []
        bound = self.min
        while bound < self.max:
            bounds.append(bound)
            bound *= self.factor
        return (*bounds, self.max)

    def model_post_init(self, context: Any) -> None:
        given = [key for key in ("min", "max", "factor") if getattr(self, key) is not None]
        if given and len(given) < 3:
            raise ValueError(f"min, max and factor go together; only {given} set")
        # a dumped configuration (``as_settings``) carries the default list next to them
        if given and tuple(self.buckets) != _DEFAULT_DURATION_BUCKETS:
            raise ValueError("set either buckets or min, max and factor, not both")
        if given and self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError("min must be below max")


class ApiMetricsConfig(_Strict):
    """``api_server.metrics``: the request metrics of the API workers, and ``/metrics``
    itself (classic: no such route when disabled)."""

    enabled: bool = True
    namespace: Annotated[str, Field(min_length=1)] = "bentoml_api_server"
    duration: DurationConfig = DurationConfig()

    _namespace = field_validator("namespace")(_metric_namespace)


class RunnerMetricsConfig(_Strict):
    """``runners.metrics``: a runner's request and batch-size metrics."""

    enabled: bool = True
    namespace: Annotated[str, Field(min_length=1)] = "bentoml_runner"

    _namespace = field_validator("namespace")(_metric_namespace)


class AccessLogFormatConfig(_Strict):
    """classic's ``format`` of the OpenTelemetry ids in access lines; accepted (no tracing here,
    so the lines carry the request id instead)."""

    trace_id: str = "032x"
    span_id: str = "016x"


class RunnerAccessLogConfig(_Strict):
    """classic's ``runners.logging.access``: accepted; runner calls are not HTTP requests here,
    so nothing is logged per call (the API workers' access lines cover every request)."""

    enabled: bool = True
    request_content_length: bool = True
    request_content_type: bool = True
    response_content_length: bool = True
    response_content_type: bool = True


class AccessLogConfig(RunnerAccessLogConfig):
    """``api_server.logging.access``: one line per request from each API worker
    (http/access_log.py); the four ``*_content_*`` keys choose the request's and response's
    ``type=`` and ``length=`` fields."""

    format: AccessLogFormatConfig = AccessLogFormatConfig()


class ApiServerLoggingConfig(_Strict):
    access: AccessLogConfig = AccessLogConfig()


class RunnerLoggingConfig(_Strict):
    access: RunnerAccessLogConfig = RunnerAccessLogConfig()
