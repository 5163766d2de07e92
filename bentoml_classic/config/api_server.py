"""``api_server.*``: the HTTP front door's sections."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from .base import NameList, _Strict
from .grpc import GrpcConfig
from .heap import HeapConfig
from .observability import ApiMetricsConfig, ApiServerLoggingConfig


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
    #: fork the API workers from one process that imported only the libraries the service
    #: module imports (numpy, pandas, pyarrow) and the HTTP stack, never the service module:
    #: each worker imports that itself, as when off (serving/library_preload.py)
    preload_libraries: bool = True
    #: freed request memory kept between requests, handed back at rest (serving/heap.py)
    heap: HeapConfig = HeapConfig()
    metrics: ApiMetricsConfig = ApiMetricsConfig()
    logging: ApiServerLoggingConfig = ApiServerLoggingConfig()
    grpc: GrpcConfig = GrpcConfig()
