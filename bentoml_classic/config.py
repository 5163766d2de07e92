"""Configuration: defaults, then the YAML file named by BENTOML_CONFIG, then BENTOML_CONFIG_OPTIONS.

Keys follow classic BentoML (``api_server.workers``, ``runners.batching.max_batch_size``, ...).
``runners.<name>.*`` overrides the ``runners.*`` defaults for one runner. An unknown key is an
error that names it: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import itertools
import os
import re
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .exceptions import BentoMLConfigException

CONFIG_ENV = "BENTOML_CONFIG"
OPTIONS_ENV = "BENTOML_CONFIG_OPTIONS"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: a list of names, or one string of comma-separated names (classic took both)
NameList = str | list[str]


class CorsConfig(_Strict):
    """``api_server.http.cors``: Starlette's CORSMiddleware, off by default (http/cors.py).

    Every key may be null, which means the default (Starlette's, as classic BentoML passed only
    the keys that were set).
    """

    enabled: bool | None = None
    access_control_allow_origins: NameList | None = None
    access_control_allow_origin_regex: str | None = None
    access_control_allow_credentials: bool | None = None
    access_control_allow_methods: NameList | None = None
    access_control_allow_headers: NameList | None = None
    access_control_max_age: int | None = None
    access_control_expose_headers: NameList | None = None

    @field_validator("access_control_allow_origin_regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        # checked here so that a typo stops start-up naming the key, not the first request
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern


class HttpConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=0, le=65535)
    #: seconds a client has to send a request's headers before its connection is closed
    header_timeout: float = Field(30.0, gt=0)
    cors: CorsConfig = CorsConfig()

    @field_validator("cors", mode="before")
    @classmethod
    def _empty_section(cls, section: Any) -> Any:
        # `cors:` with every key commented out is YAML's null: the defaults
        return {} if section is None else section


class TrafficConfig(_Strict):
    timeout: float = Field(60.0, gt=0)
    max_concurrency: int | None = Field(None, gt=0)


class SslConfig(_Strict):
    """HTTPS for the API server, classic's ``api_server.ssl``: on when ``certfile`` is set
    (``enabled`` is accepted for classic files; a certificate is what turns TLS on).
    ``version`` and ``cert_reqs`` are the numbers of Python's ``ssl`` module, as in uvicorn."""

    enabled: bool = False
    certfile: str | None = None
    keyfile: str | None = None
    keyfile_password: str | None = None
    ca_certs: str | None = None
    version: int = 17  # ssl.PROTOCOL_TLS_SERVER
    cert_reqs: int = 0  # ssl.CERT_NONE
    ciphers: str | None = "TLSv1"


class TimeoutsConfig(_Strict):
    """classic's ``api_server.timeouts``: seconds an idle kept-alive connection stays open, and
    (when set) how long a stopping API worker drains, in place of
    ``api_server.graceful_shutdown_timeout``."""

    keep_alive: int = Field(5, gt=0)
    graceful_shutdown: float | None = Field(None, ge=0)


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


class ApiServerConfig(_Strict):
    workers: int | None = Field(None, gt=0, description="default: the CPU count")
    #: pending connections the listening socket holds before the kernel refuses more
    backlog: int = Field(2048, gt=0)
    http: HttpConfig = HttpConfig()
    traffic: TrafficConfig = TrafficConfig()
    ssl: SslConfig = SslConfig()
    timeouts: TimeoutsConfig = TimeoutsConfig()
    max_request_size: int = Field(20 * 1024 * 1024, gt=0)
    graceful_shutdown_timeout: float = Field(20.0, ge=0)
    #: a quick sync API function runs on the event loop thread when it is the worker's only
    #: request (server/sync_calls.py); false keeps every sync call in the thread pool
    inline_sync_apis: bool = True
    #: Linux scheduling policy of the API workers' threads (server/scheduling.py): batch
    #: (SCHED_BATCH: a woken thread does not preempt the one that woke it) or inherit
    scheduling_policy: Literal["batch", "inherit"] = "batch"
    #: fork the API workers from one process that imported the service and the HTTP stack
    #: first, so that they share those pages (serving/prefork.py); off: each imports its own
    preload: bool = False
    metrics: ApiMetricsConfig = ApiMetricsConfig()
    logging: ApiServerLoggingConfig = ApiServerLoggingConfig()


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
    metrics: RunnerMetricsConfig = RunnerMetricsConfig()
    logging: RunnerLoggingConfig = RunnerLoggingConfig()


class BentoMLConfig(_Strict):
    api_server: ApiServerConfig = ApiServerConfig()
    runners: RunnerConfig = RunnerConfig()
    #: per-runner overrides, already merged over ``runners``
    runner_overrides: dict[str, RunnerConfig] = {}

    def runner(self, name: str) -> RunnerConfig:
        return self.runner_overrides.get(name, self.runners)

    @property
    def grace_seconds(self) -> float:
        """How long a stopping API worker drains: ``api_server.timeouts.graceful_shutdown``
        (classic's key) when set, else ``api_server.graceful_shutdown_timeout``."""
        graceful = self.api_server.timeouts.graceful_shutdown
        return self.api_server.graceful_shutdown_timeout if graceful is None else graceful


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _parse_options(text: str) -> dict[str, Any]:
    """``a.b=1 c.d=true`` -> nested dict; values are parsed as YAML scalars."""
    import yaml

    result: dict[str, Any] = {}
    for item in text.split():
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise BentoMLConfigException(f"{OPTIONS_ENV}: expected KEY=VALUE, got {item!r}")
        node = result
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return result


def _runner_fields() -> set[str]:
    return set(RunnerConfig.model_fields)


def build_config(raw: dict[str, Any]) -> BentoMLConfig:
    """Validate a nested dict of settings; error messages name the offending key."""
    if not isinstance(raw, dict):
        raise BentoMLConfigException("configuration must be a mapping of sections")
    runners_raw = raw.get("runners") or {}
    if not isinstance(runners_raw, dict):
        raise BentoMLConfigException(
            f"'runners' must be a mapping of settings, got {type(runners_raw).__name__}"
        )
    defaults = {k: v for k, v in runners_raw.items() if k in _runner_fields()}
    overrides_raw = {k: v for k, v in runners_raw.items() if k not in _runner_fields()}
    try:
        runners = RunnerConfig.model_validate(defaults)
    except ValidationError as exc:
        raise _explain(exc, "runners") from None
    try:
        overrides = {}
        for name, section in overrides_raw.items():
            if not isinstance(section, dict):
                raise BentoMLConfigException(
                    f"unknown configuration key 'runners.{name}' (a runner section must be a "
                    f"mapping; known keys: {sorted(_runner_fields())})"
                )
            merged = _deep_merge(runners.model_dump(by_alias=True, exclude_none=True), section)
            try:
                overrides[name] = RunnerConfig.model_validate(merged)
            except ValidationError as exc:
                raise _explain(exc, f"runners.{name}") from None
        rest = {k: v for k, v in raw.items() if k != "runners"}
        return BentoMLConfig.model_validate(
            {**rest, "runners": runners, "runner_overrides": overrides}
        )
    except ValidationError as exc:
        raise _explain(exc, "") from None


def _explain(exc: ValidationError, prefix: str) -> BentoMLConfigException:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        key = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown configuration key {key!r}")
        else:
            problems.append(f"{key}: {error['msg']}")
    return BentoMLConfigException("invalid configuration: " + "; ".join(problems))


def as_settings(config: BentoMLConfig) -> dict[str, Any]:
    """``config`` as the nested settings a file would hold (JSON-able): ``build_config`` of
    them is ``config`` again. How an arbiter hands its workers the configuration it resolved."""
    raw: dict[str, Any] = config.model_dump(
        mode="json", by_alias=True, exclude={"runner_overrides"}
    )
    for name, override in config.runner_overrides.items():
        raw["runners"][name] = override.model_dump(mode="json", by_alias=True)
    return raw


def with_settings(config: BentoMLConfig, settings: dict[str, Any]) -> BentoMLConfig:
    """``config`` with dotted ``settings`` (``{"api_server.traffic.timeout": 5}``) put over it,
    validated as a file's would be (a bad value is an error naming its key). The start
    functions' arguments (``timeout=``, ``backlog=``, ...) reach the workers this way, as
    part of the one configuration they are handed."""
    raw = as_settings(config)
    for key, value in settings.items():
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return build_config(raw)


def config_from_options(options: str) -> BentoMLConfig:
    """The configuration that ``BENTOML_CONFIG_OPTIONS=options`` alone would give."""
    return build_config(_parse_options(options))


@cache
def load_config() -> BentoMLConfig:
    """The configuration of this process (read once: workers inherit the same environment)."""
    raw: dict[str, Any] = {}
    path = os.environ.get(CONFIG_ENV)
    if path:
        import yaml

        try:
            with open(path) as file:
                raw = yaml.safe_load(file) or {}
        except OSError as exc:
            raise BentoMLConfigException(f"cannot read {CONFIG_ENV}={path!r}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise BentoMLConfigException(f"{path} is not valid YAML: {exc}") from exc
    options = os.environ.get(OPTIONS_ENV)
    if options:
        raw = _deep_merge(raw, _parse_options(options))
    return build_config(raw)
