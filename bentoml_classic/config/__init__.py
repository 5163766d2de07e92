"""Configuration: defaults, then the YAML file named by BENTOML_CONFIG, then BENTOML_CONFIG_OPTIONS.

Keys follow classic BentoML (``api_server.workers``, ``runners.batching.max_batch_size``, ...).
``runners.<name>.*`` overrides the ``runners.*`` defaults for one runner. An unknown key is an
error that names it: a typo must not silently fall back to a default.
"""

from .api_server import ApiServerConfig, CorsConfig, HttpConfig, SslConfig, TimeoutsConfig
from .loading import (
    CONFIG_ENV,
    OPTIONS_ENV,
    BentoMLConfig,
    as_settings,
    build_config,
    config_from_options,
    load_config,
    with_settings,
)
from .observability import AccessLogConfig, ApiMetricsConfig, RunnerMetricsConfig
from .runners import BatchingConfig, ResourcesConfig, RunnerConfig
from .services import ServiceConfig, ServiceTrafficConfig
from .triton import TritonConfig

__all__ = [
    "CONFIG_ENV",
    "OPTIONS_ENV",
    "AccessLogConfig",
    "ApiMetricsConfig",
    "ApiServerConfig",
    "BatchingConfig",
    "BentoMLConfig",
    "CorsConfig",
    "HttpConfig",
    "ResourcesConfig",
    "RunnerConfig",
    "RunnerMetricsConfig",
    "ServiceConfig",
    "ServiceTrafficConfig",
    "SslConfig",
    "TimeoutsConfig",
    "TritonConfig",
    "as_settings",
    "build_config",
    "config_from_options",
    "load_config",
    "with_settings",
]
