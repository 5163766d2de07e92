"""The ASGI application an API worker serves: one POST route per API, probes, /docs.json."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from .. import metrics
from ..config import load_config
from ..context import Context, ResponseContext
from ..exceptions import BentoMLException, InternalServerError, ServiceUnavailable
from ..runner.runner import Runner
from ..service import InferenceAPI, Service
from .dispatch import ApiDispatcher
from .errors import (
    error_response,
    from_user_exception,
    handle_http_exception,
    handle_unexpected,
)
from .openapi import build_openapi
from .request_id import RequestIdMiddleware
from .request_size import RequestSizeLimit
from .sync_calls import SyncCaller, is_lone_request
from .threadpool import ThreadPool
from .traffic import TrafficControl

#: how a worker brings up a runner before serving (in process, or a client to a runner process)
RunnerStarter = Callable[[Runner], Awaitable[None] | None]


async def _call(func: Callable[..., Any], *args: Any) -> Any:
    result = func(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _init_runner_locally(runner: Runner) -> None:
    runner.init_local(quiet=True)


def _apply_response_context(response: Response, wanted: ResponseContext) -> None:
    if wanted.status_code != 200:
        response.status_code = wanted.status_code
    for key, value in wanted.headers.items():
        response.headers[key] = value
    for cookie in wanted.cookies:
        response.set_cookie(
            cookie.key,
            cookie.value,
            max_age=cookie.max_age,
            expires=cookie.expires,
            path=cookie.path,
            domain=cookie.domain,
            secure=cookie.secure,
            httponly=cookie.httponly,
            samesite=cookie.samesite,
        )


def _api_endpoint(
    api: InferenceAPI,
    state: dict[str, Any],
    development: bool,
    sync_caller: SyncCaller,
    traffic: TrafficControl,
) -> Callable[[Request], Awaitable[Response]]:
    """Build the request handler for one API; everything decidable up front is decided here."""

    # A Multipart input is a dict of parts, passed as keyword arguments (checked at decoration).
    as_kwargs = api.input_as_kwargs

    async def endpoint(request: Request) -> Response:
        refused = traffic.too_many()
        if refused is not None:
            return error_response(refused)
        task = asyncio.current_task()
        assert task is not None
        traffic.enter(task)
        try:
            return await handle(request)
        except asyncio.CancelledError:
            if not traffic.expired(task):
                raise  # cancelled by the server, not by the deadline
        finally:
            traffic.leave(task)
        task.uncancel()
        return error_response(traffic.timed_out(api.name))

    async def handle(request: Request) -> Response:
        try:
            value = await api.input.from_http_request(request)
        except BentoMLException as exc:
            return error_response(exc)
        ctx = Context(request, state) if api.ctx_param else None
        kwargs = {api.ctx_param: ctx} if api.ctx_param else {}
        args: tuple[Any, ...] = (value,)
        if as_kwargs:
            args, kwargs = (), {**value, **kwargs}
        try:
            if api.is_async:
                result = await api.func(*args, **kwargs)
            else:
                lone = is_lone_request(request.scope)
                result = await sync_caller.call(api.func, args, kwargs, lone)
        except Exception as exc:
            return error_response(from_user_exception(exc, api.name, development))
        try:
            response = await api.output.to_http_response(result)
        except Exception as exc:
            return error_response(
                InternalServerError(
                    f"API {api.name!r} returned {type(result).__name__}, which its output "
                    f"descriptor {type(api.output).__name__} cannot render: {exc}",
                    detail={"exception": type(exc).__name__},
                )
            )
        if ctx is not None:
            _apply_response_context(response, ctx.response)
        return response

    return endpoint


async def render_metrics(svc: Service) -> str:
    """Batch-size histograms of every runner method: from the runner workers for remote
    runners (one series per worker), from this process for runners that run in it."""
    series: list[tuple[dict[str, str], metrics.Histogram]] = []
    local = {(s["runner"], s["method"]): s for s in metrics.batch_size_snapshot()}
    for runner in svc.runners:
        remote = getattr(runner._handle, "metrics", None)
        if remote is None:
            for (runner_name, method), snapshot in sorted(local.items()):
                if runner_name == runner.name:
                    labels = {"runner": runner_name, "method": method, "worker": "local"}
                    series.append((labels, metrics.Histogram.from_snapshot(snapshot)))
            continue
        for index, snapshots in enumerate(await remote()):
            for snapshot in snapshots or []:
                if snapshot["runner"] == runner.name:
                    labels = {
                        "runner": runner.name,
                        "method": str(snapshot["method"]),
                        "worker": str(index + 1),
                    }
                    series.append((labels, metrics.Histogram.from_snapshot(snapshot)))
    return metrics.render_histograms(metrics.BATCH_SIZE, metrics.BATCH_SIZE_HELP, series)


def build_app(
    svc: Service,
    *,
    development: bool = False,
    start_runner: RunnerStarter = _init_runner_locally,
    max_request_size: int | None = None,
) -> ASGIApp:
    """Make the ASGI app of ``svc``; runners are started by ``start_runner`` in the lifespan.

    ``max_request_size`` (bytes) defaults to ``api_server.max_request_size`` of the configuration.
    """
    api_server_config = load_config().api_server
    if max_request_size is None:
        max_request_size = api_server_config.max_request_size
    state: dict[str, Any] = {}
    readiness = {"ready": False}
    pool = ThreadPool()
    traffic = TrafficControl(
        api_server_config.traffic.timeout, api_server_config.traffic.max_concurrency
    )
    openapi_body = json.dumps(build_openapi(svc, max_concurrency=traffic.max_concurrency)).encode()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for runner in svc.runners:
            await _call(start_runner, runner)
        hook_ctx = Context(None, state)
        for hook in svc.startup_hooks:
            await _call(hook, hook_ctx)
        readiness["ready"] = True
        try:
            yield
        finally:
            readiness["ready"] = False
            for hook in svc.shutdown_hooks:
                await _call(hook, hook_ctx)
            for runner in svc.runners:
                runner.destroy()
            pool.shutdown()

    async def alive(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def ready(request: Request) -> Response:
        if not readiness["ready"]:
            return error_response(ServiceUnavailable("not ready: the server is still starting"))
        for runner in svc.runners:
            probe = getattr(runner._handle, "is_ready", None)
            if probe is not None and not await probe():
                return error_response(
                    ServiceUnavailable(f"not ready: runner {runner.name!r} does not answer yet")
                )
        return PlainTextResponse("ok")

    async def metrics_text(request: Request) -> Response:
        return PlainTextResponse(
            await render_metrics(svc), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def docs_json(request: Request) -> Response:
        return Response(openapi_body, media_type="application/json")

    routes = [
        Route("/healthz", alive, methods=["GET"]),
        Route("/livez", alive, methods=["GET"]),
        Route("/readyz", ready, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
        Route("/docs.json", docs_json, methods=["GET"]),
    ]
    endpoints = {
        f"/{api.route}": _api_endpoint(
            api,
            state,
            development,
            SyncCaller(pool, name=api.name, inline_allowed=api_server_config.inline_sync_apis),
            traffic,
        )
        for api in svc.apis.values()
    }
    # Also routed here, so that Starlette answers GET on an API with 405 rather than 404.
    routes += [Route(path, endpoint, methods=["POST"]) for path, endpoint in endpoints.items()]
    app = Starlette(
        debug=False,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: handle_http_exception, Exception: handle_unexpected},
    )
    # The size limit sits inside the request id layer, so that its 413 carries an id too.
    return RequestIdMiddleware(RequestSizeLimit(ApiDispatcher(endpoints, app), max_request_size))
