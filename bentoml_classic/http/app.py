"""The ASGI application an API worker serves: one POST route per API, probes, /docs.json and
the Swagger UI at "/"."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from ..classic_service import Service
from ..composition.in_process import start_dependencies_here
from ..config import ApiMetricsConfig, BentoMLConfig
from ..context import Context
from ..exceptions import ServiceUnavailable
from ..metrics.builtin import api_meter
from ..metrics.merge import merged_exposition
from ..metrics.meters import RequestMeter, flush_pending
from ..metrics.registry import CONTENT_TYPE, exposition
from ..runner.runner import Runner
from .access_log import AccessLog, AccessLogMiddleware
from .cors import with_cors
from .dispatch import ApiDispatcher
from .endpoint import api_endpoint
from .errors import error_response, handle_http_exception, handle_unexpected
from .extensions import mounted_routes, with_middlewares
from .openapi import build_openapi
from .request_id import RequestIdMiddleware
from .request_size import RequestSizeLimit
from .swagger_ui import swagger_ui_routes
from .sync_calls import SyncCaller
from .threadpool import ThreadPool
from .traffic import TrafficControl

#: how a worker brings up a runner before serving (in process, or a client to a runner process)
RunnerStarter = Callable[[Runner], Awaitable[None] | None]
#: what /readyz asks of the rest of a composed graph: None, or what does not answer yet
GraphReadiness = Callable[[], Awaitable[str | None]]


async def _call(func: Callable[..., Any], *args: Any) -> Any:
    result = func(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _init_runner_locally(config: BentoMLConfig, svc: Service, runner: Runner) -> None:
    runner.init_local(quiet=True, config=config.runner(runner.name), service_name=svc.name)


async def render_metrics(svc: Service, pool: ThreadPool) -> bytes:
    """Every metric of the deployment (``metrics/registry.py``), once the runners' workers have
    written what they hold, with those of runner servers started on their own merged in. The
    files are read in a pool thread: a deployment with many series takes milliseconds, which
    the event loop should spend on requests."""
    scraped = await asyncio.gather(
        *(runner.runner_handle.scrape_metrics() for runner in svc.runners)
    )
    foreign = [text for texts in scraped for text in texts]
    flush_pending()  # what this process holds; other API workers write theirs on a timer
    local: bytes = await pool.run(exposition)
    return merged_exposition(local, foreign) if foreign else local


def _api_meters(svc: Service, config: ApiMetricsConfig) -> dict[str, RequestMeter]:
    """One meter per API route, labelled as classic labelled them."""
    return {
        f"/{api.route}": api_meter(
            f"/{api.route}",
            svc.name,
            namespace=config.namespace,
            buckets=config.duration.bounds(),
        )
        for api in svc.apis.values()
    }


def build_app(
    svc: Service,
    config: BentoMLConfig | None = None,
    *,
    development: bool = False,
    start_runner: RunnerStarter | None = None,
    graph_ready: GraphReadiness | None = None,
) -> ASGIApp:
    """Make the ASGI app of ``svc`` under ``config`` (the defaults when None).

    Runners are started by ``start_runner`` in the lifespan; by default each runs in this
    process (``init_local``) with its section of ``config``, and so do the service's
    dependencies (``composition/in_process.py``); a worker that reaches them elsewhere passes
    its ``start_runner``, and ``graph_ready`` for ``/readyz`` to wait for them.
    """
    config = config or BentoMLConfig()
    api_server_config = config.api_server
    graph_here = start_runner is None
    if start_runner is None:
        start_runner = partial(_init_runner_locally, config, svc)
    state: dict[str, Any] = {}
    readiness = {"ready": False}
    pool = ThreadPool()
    traffic = TrafficControl(
        api_server_config.traffic.timeout, api_server_config.traffic.max_concurrency
    )
    openapi_body = json.dumps(build_openapi(svc, max_concurrency=traffic.max_concurrency)).encode()
    access_config = api_server_config.logging.access
    access_log = AccessLog(access_config) if access_config.enabled else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if access_log is not None:
            access_log.start()
        for runner in svc.runners:
            await _call(start_runner, runner)
        stop_graph = await start_dependencies_here(svc, config) if graph_here else None
        hook_ctx = Context(state=state)
        for hook in svc.startup_hooks:
            await _call(hook, hook_ctx)
        readiness["ready"] = True
        try:
            yield
        finally:
            readiness["ready"] = False
            for hook in svc.shutdown_hooks:
                await _call(hook, hook_ctx)
            if stop_graph is not None:
                await stop_graph()
            for runner in svc.runners:
                runner.destroy()
            pool.shutdown()
            if access_log is not None:
                access_log.close()
            flush_pending()

    async def alive(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def ready(request: Request) -> Response:
        if not readiness["ready"]:
            return error_response(ServiceUnavailable("not ready: the server is still starting"))
        for runner in svc.runners:
            if not await runner.runner_handle.is_ready():
                return error_response(
                    ServiceUnavailable(f"not ready: runner {runner.name!r} does not answer yet")
                )
        missing = None if graph_ready is None else await graph_ready()
        if missing is not None:
            return error_response(ServiceUnavailable(f"not ready: {missing} does not answer yet"))
        return PlainTextResponse("ok")

    async def metrics_text(request: Request) -> Response:
        return Response(await render_metrics(svc, pool), media_type=CONTENT_TYPE)

    async def docs_json(request: Request) -> Response:
        return Response(openapi_body, media_type="application/json")

    routes: list[BaseRoute] = [
        Route("/healthz", alive, methods=["GET"]),
        Route("/livez", alive, methods=["GET"]),
        Route("/readyz", ready, methods=["GET"]),
        Route("/docs.json", docs_json, methods=["GET"]),
        # before the mounted apps, as in classic: GET / stays the page (http/swagger_ui.py)
        *swagger_ui_routes(svc.name),
    ]
    metrics_config = api_server_config.metrics
    meters: dict[str, RequestMeter] = {}
    if metrics_config.enabled:  # classic: no /metrics at all when disabled
        routes.append(Route("/metrics", metrics_text, methods=["GET"]))
        meters = _api_meters(svc, metrics_config)
    endpoints = {
        f"/{api.route}": api_endpoint(
            api,
            state,
            development,
            SyncCaller(pool, name=api.name, inline_allowed=api_server_config.inline_sync_apis),
            traffic,
            pool,
        )
        for api in svc.apis.values()
    }
    # Also routed here, so that Starlette answers GET on an API with 405 rather than 404.
    routes += [Route(path, endpoint, methods=["POST"]) for path, endpoint in endpoints.items()]
    # after ours: the APIs and probes win on their own routes (extensions.py)
    routes += mounted_routes(svc)
    app = Starlette(
        debug=False,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: handle_http_exception, Exception: handle_unexpected},
    )
    # Outermost first: request ids (on every answer, a 413 or a CORS refusal included) and the
    # access log, CORS (http/cors.py says why outside the user's middlewares), the user's
    # middlewares, the size limit, the API dispatcher (which counts API requests for /metrics).
    # With no CORS and no middleware the stack is the bare three.
    inner = RequestSizeLimit(
        ApiDispatcher(endpoints, app, meters), api_server_config.max_request_size
    )
    outer = with_cors(with_middlewares(inner, svc), api_server_config.http.cors)
    if access_log is None:
        return RequestIdMiddleware(outer)
    return AccessLogMiddleware(outer, access_log)
