"""The classic arguments of ``serve`` and the start functions, turned into configuration.

Classic BentoML took ``timeout``, ``backlog``, ``timeout_keep_alive`` and
``timeout_graceful_shutdown`` as arguments whose defaults were configuration keys. Here each
given argument is written over its key, and the workers are handed the resulting configuration
(``WorkerSpec.config``), so an argument and its key can never disagree and every process reads
one source:

======================================  ================================================
argument                                key
======================================  ================================================
``timeout`` (API server)                ``api_server.traffic.timeout`` (the 504 deadline)
``timeout`` (runner server)             ``runners.<name>.timeout`` (the stuck-call limit)
``backlog``                             ``api_server.backlog`` (the listening socket)
``timeout_keep_alive``                  ``api_server.timeouts.keep_alive`` (uvicorn)
``timeout_graceful_shutdown``           ``api_server.timeouts.graceful_shutdown`` (drain)
======================================  ================================================
"""

from __future__ import annotations

from typing import Any

from ..config import BentoMLConfig, with_settings
from ..exceptions import InvalidArgument
from .http_tls import HttpTls, resolve_http_tls


def http_settings(
    config: BentoMLConfig,
    *,
    timeout: float | None = None,
    backlog: int | None = None,
    timeout_keep_alive: int | None = None,
    timeout_graceful_shutdown: float | None = None,
) -> BentoMLConfig:
    """``config`` with the API server's arguments that were given written over their keys."""
    settings: dict[str, Any] = {}
    if timeout is not None:
        settings["api_server.traffic.timeout"] = _positive("timeout", timeout)
    if backlog is not None:
        settings["api_server.backlog"] = int(_positive("backlog", backlog))
    if timeout_keep_alive is not None:
        settings["api_server.timeouts.keep_alive"] = int(
            _positive("timeout_keep_alive", timeout_keep_alive)
        )
    if timeout_graceful_shutdown is not None:
        if timeout_graceful_shutdown < 0:
            raise InvalidArgument(
                f"timeout_graceful_shutdown must be 0 or more seconds, got "
                f"{timeout_graceful_shutdown!r}"
            )
        settings["api_server.timeouts.graceful_shutdown"] = timeout_graceful_shutdown
    return with_settings(config, settings) if settings else config


def http_tier(
    config: BentoMLConfig,
    *,
    timeout: float | None = None,
    backlog: int | None = None,
    timeout_keep_alive: int | None = None,
    timeout_graceful_shutdown: float | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_keyfile_password: str | None = None,
    ssl_version: int | None = None,
    ssl_cert_reqs: int | None = None,
    ssl_ca_certs: str | None = None,
    ssl_ciphers: str | None = None,
) -> tuple[BentoMLConfig, HttpTls | None]:
    """What an API server runs with: ``config`` with its arguments written over it, and its
    HTTPS settings (None: plain HTTP), checked: a bad one raises here, before anything starts."""
    config = http_settings(
        config,
        timeout=timeout,
        backlog=backlog,
        timeout_keep_alive=timeout_keep_alive,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )
    https = resolve_http_tls(
        config.api_server.ssl,
        certfile=ssl_certfile,
        keyfile=ssl_keyfile,
        keyfile_password=ssl_keyfile_password,
        version=ssl_version,
        cert_reqs=ssl_cert_reqs,
        ca_certs=ssl_ca_certs,
        ciphers=ssl_ciphers,
    )
    return config, https


def runner_settings(
    config: BentoMLConfig, runner_name: str, *, timeout: float | None = None
) -> BentoMLConfig:
    """``config`` with a runner server's ``timeout`` written over ``runners.<name>.timeout``."""
    if timeout is None:
        return config
    return with_settings(config, {f"runners.{runner_name}.timeout": _positive("timeout", timeout)})


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidArgument(f"{name} must be a positive number, got {value!r}")
    return value


def bento_identifier(bento_identifier: str | None, bento: str | None) -> str:
    """The service to serve, given as classic's ``bento_identifier`` or as ``bento=``, this
    package's earlier name for it."""
    if bento_identifier and bento and bento_identifier != bento:
        raise InvalidArgument(
            f"bento_identifier={bento_identifier!r} and bento={bento!r} name different "
            "services: give one (bento= is the older name of bento_identifier)"
        )
    identifier = bento_identifier or bento
    if not identifier:
        raise InvalidArgument("no service given: pass bento_identifier, e.g. 'service:svc'")
    return identifier
