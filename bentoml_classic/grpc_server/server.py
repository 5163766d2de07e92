"""One gRPC API server: ``grpc.aio`` serving ``BentoService``, health, and optionally reflection
and channelz, with the service's runners and hooks brought up and down around it.

Every process that serves gRPC runs one of these: each production API worker (``worker.py``),
and the single process of ``--development``. Workers share the port through ``SO_REUSEPORT``
(gRPC sets it on Linux; the arbiter checks the port is free first). ``grpc.health.v1.Health``
says NOT_SERVING until every runner answers, then SERVING, for the whole server ("") and for
``bentoml.grpc.v1.BentoService``; NOT_SERVING again once the server is stopping.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..classic_service import Service
from ..config import BentoMLConfig
from ..context import Context
from ..http.app import render_metrics
from ..http.threadpool import ThreadPool
from ..http.traffic import TrafficControl
from ..metrics.builtin import api_meter
from ..metrics.meters import RequestMeter, flush_pending
from ..runner.runner import Runner
from .metrics_port import MetricsPort
from .servicer import BentoServicer

logger = logging.getLogger("bentoml_classic.grpc")

SERVICE_NAME = "bentoml.grpc.v1.BentoService"
#: how often readiness is asked of the runners until they all answer
READY_POLL_S = 0.2


@dataclass(frozen=True)
class GrpcTls:
    """TLS for the gRPC port: a certificate and key; with ``ca_certs``, clients must present a
    certificate signed by it (mutual TLS), as classic's ``--ssl-ca-certs`` asked."""

    certfile: str
    keyfile: str
    ca_certs: str | None = None

    def credentials(self) -> Any:
        import grpc

        def read(path: str) -> bytes:
            with open(path, "rb") as file:
                return file.read()

        root = read(self.ca_certs) if self.ca_certs else None
        return grpc.ssl_server_credentials(
            [(read(self.keyfile), read(self.certfile))],
            root_certificates=root,
            require_client_auth=root is not None,
        )


async def _call(func: Callable[..., Any], *args: Any) -> Any:
    result = func(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def server_options(config: BentoMLConfig) -> list[tuple[str, Any]]:
    """gRPC channel arguments from ``api_server.grpc``: message size (bounded by default, by
    ``api_server.max_request_size``) and streams per connection."""
    grpc_config = config.api_server.grpc
    length = grpc_config.max_message_length or config.api_server.max_request_size
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", length),
        ("grpc.max_send_message_length", length),
        ("grpc.so_reuseport", 1),
    ]
    if grpc_config.max_concurrent_streams is not None:
        options.append(("grpc.max_concurrent_streams", grpc_config.max_concurrent_streams))
    if grpc_config.channelz.enabled:
        options.append(("grpc.enable_channelz", 1))
    return options


class GrpcApiServer:
    """Start with ``start()``, which returns once the port is bound (health says SERVING only
    later, once the runners answer); ``stop()`` drains for the grace period."""

    def __init__(
        self,
        svc: Service,
        config: BentoMLConfig,
        *,
        development: bool = False,
        start_runner: Callable[[Runner], Awaitable[None] | None] | None = None,
        tls: GrpcTls | None = None,
        metrics_port: bool = True,
    ) -> None:
        self.svc = svc
        self.config = config
        self.development = development
        self.start_runner = start_runner or self._init_locally
        self.tls = tls
        self.state: dict[str, Any] = {}
        self.pool = ThreadPool()
        self._server: Any = None
        self._health: Any = None
        self._ready_task: asyncio.Task[None] | None = None
        self._hook_ctx = Context(state=self.state)
        self._metrics = MetricsPort(self._render_metrics) if metrics_port else None
        self.port: int | None = None

    def _init_locally(self, runner: Runner) -> None:
        runner.init_local(
            quiet=True, config=self.config.runner(runner.name), service_name=self.svc.name
        )

    async def _render_metrics(self) -> bytes:
        return await render_metrics(self.svc, self.pool)

    def _meters(self) -> dict[str, RequestMeter]:
        metrics_config = self.config.api_server.metrics
        if not metrics_config.enabled:
            return {}
        return {
            name: api_meter(
                f"/{api.route}",
                self.svc.name,
                namespace=metrics_config.namespace,
                buckets=metrics_config.duration.bounds(),
            )
            for name, api in self.svc.apis.items()
        }

    async def start(self, host: str, port: int) -> int:
        import grpc
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc

        from ..grpc.v1 import service_pb2, service_pb2_grpc

        api_config = self.config.api_server
        grpc_config = api_config.grpc
        for runner in self.svc.runners:
            await _call(self.start_runner, runner)
        for hook in self.svc.startup_hooks:
            await _call(hook, self._hook_ctx)
        server = grpc.aio.server(
            options=server_options(self.config),
            maximum_concurrent_rpcs=grpc_config.maximum_concurrent_rpcs,
        )
        servicer = BentoServicer(
            self.svc,
            service_pb2,
            state=self.state,
            traffic=TrafficControl(api_config.traffic.timeout, api_config.traffic.max_concurrency),
            pool=self.pool,
            development=self.development,
            inline_sync_apis=api_config.inline_sync_apis,
            meters=self._meters(),
        )
        service_pb2_grpc.add_BentoServiceServicer_to_server(servicer, server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        if grpc_config.reflection.enabled:
            from grpc_reflection.v1alpha import reflection

            names = (
                service_pb2.DESCRIPTOR.services_by_name["BentoService"].full_name,
                health.SERVICE_NAME,
                reflection.SERVICE_NAME,
            )
            reflection.enable_server_reflection(names, server)
        if grpc_config.channelz.enabled:
            from grpc_channelz.v1 import channelz

            channelz.add_channelz_servicer(server)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if self.tls is not None:
            bound = server.add_secure_port(address, self.tls.credentials())
        else:
            bound = server.add_insecure_port(address)
        await server.start()
        self._server = server
        self.port = bound
        if self._metrics is not None:
            metrics = grpc_config.metrics
            try:
                await self._metrics.start(metrics.host, metrics.port)
            except OSError as exc:  # another program's port: serve the calls all the same
                logger.error(
                    "no /metrics: cannot listen on %s:%s (api_server.grpc.metrics): %s",
                    metrics.host,
                    metrics.port,
                    exc.strerror or exc,
                )
                self._metrics = None
        self._ready_task = asyncio.get_running_loop().create_task(self._announce_ready())
        return int(bound)

    async def _announce_ready(self) -> None:
        from grpc_health.v1 import health_pb2

        while True:
            answers = [await runner.runner_handle.is_ready() for runner in self.svc.runners]
            if all(answers):
                break
            await asyncio.sleep(READY_POLL_S)
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info("ready: serving %s over gRPC", self.svc.name)

    async def wait(self) -> None:
        await self._server.wait_for_termination()

    async def stop(self, grace: float) -> None:
        from grpc_health.v1 import health_pb2

        if self._ready_task is not None:
            self._ready_task.cancel()
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
            for name in ("", SERVICE_NAME):
                await self._health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        if self._metrics is not None:
            await self._metrics.stop()
        if self._server is not None:
            await self._server.stop(grace)
        for hook in self.svc.shutdown_hooks:
            await _call(hook, self._hook_ctx)
        for runner in self.svc.runners:
            runner.destroy()
        self.pool.shutdown()
        flush_pending()


async def serve_until_signalled(server: GrpcApiServer, host: str, port: int, grace: float) -> None:
    """Start ``server`` and serve until SIGTERM or SIGINT, then stop it within ``grace``."""
    import signal

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await server.start(host, port)
    await stopping.wait()
    await server.stop(grace)
