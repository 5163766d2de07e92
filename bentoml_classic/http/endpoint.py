"""The request handler of one API: decode, call the user's function, render, and every failure
as the JSON error envelope."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..classic_service import InferenceAPI
from ..context import Context, ResponseContext, response_wanted
from ..exceptions import BentoMLException, InternalServerError, excerpt
from .errors import error_response, from_user_exception
from .streaming import ChunkSource, ChunkStream, is_chunk_source, streams_chunks
from .sync_calls import SyncCaller, is_lone_request
from .threadpool import ThreadPool
from .traffic import TrafficControl


def _apply_response_context(response: Response, wanted: ResponseContext) -> None:
    if wanted.status_code != 200:
        response.status_code = wanted.status_code
    header_items = wanted.header_items()
    if header_items:
        headers = response.headers
        # a name the function set replaces every value the descriptor gave it
        for key in {key.lower() for key, _ in header_items}:
            del headers[key]
        for key, value in header_items:
            headers.append(key, value)
    for cookie in wanted.cookies_set():
        response.set_cookie(
            cookie.key,
            cookie.value,
            max_age=cookie.max_age,
            expires=cookie.expires,
            path=cookie.path,
            domain=cookie.domain,
            secure=cookie.secure,
            httponly=cookie.httponly,
            samesite=cookie.samesite.lower(),  # type: ignore[arg-type]
        )


def _request_id(request: Request) -> str | None:
    request_id: str | None = request.scope.get("state", {}).get("request_id")
    return request_id


def api_endpoint(
    api: InferenceAPI,
    state: dict[str, Any],
    development: bool,
    sync_caller: SyncCaller,
    traffic: TrafficControl,
    pool: ThreadPool,
) -> Callable[[Request], Awaitable[Response]]:
    """Build the request handler for one API; everything decidable up front is decided here."""

    # A Multipart input is a dict of parts, passed as keyword arguments (checked at decoration).
    as_kwargs = api.input_as_kwargs
    # Calling a generator function runs none of its code: no need for the pool.
    makes_iterator = inspect.isgeneratorfunction(api.func) or inspect.isasyncgenfunction(api.func)
    may_stream = streams_chunks(api.output)

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
            if makes_iterator:
                result = api.func(*args, **kwargs)
            elif api.is_async:
                result = await api.func(*args, **kwargs)
            else:
                lone = is_lone_request(request.scope)
                result = await sync_caller.call(api.func, args, kwargs, lone)
        except Exception as exc:
            return error_response(
                from_user_exception(exc, api.name, development, _request_id(request))
            )
        if may_stream and not isinstance(result, str) and is_chunk_source(result):
            return await stream(result, request, ctx)
        try:
            response = await api.output.to_http_response(result)
        except Exception as exc:
            return error_response(
                InternalServerError(
                    f"API {api.name!r} returned {type(result).__name__}, which its output "
                    f"descriptor {type(api.output).__name__} cannot render: {excerpt(exc)}",
                    detail={"exception": type(exc).__name__},
                )
            )
        if ctx is not None and (wanted := response_wanted(ctx)) is not None:
            _apply_response_context(response, wanted)
        return response

    async def stream(result: Any, request: Request, ctx: Context | None) -> Response:
        """The streamed answer, once its first chunk is there (streaming.py says why)."""
        source = ChunkSource(result, pool)
        try:
            first = await source.next()
        except BaseException as exc:
            source.close_soon()
            if not isinstance(exc, Exception):
                raise  # cancelled: by the deadline (a 504) or by the server
            # an error keeps its own status, whatever the function set before it failed
            return error_response(
                from_user_exception(exc, api.name, development, _request_id(request))
            )
        response: Response
        if first is None:
            response = Response(b"", media_type=api.output.mime_type)
        else:
            response = ChunkStream(
                source,
                first,
                media_type=api.output.mime_type,
                api_name=api.name,
                request_id=_request_id(request),
            )
        if ctx is not None and (wanted := response_wanted(ctx)) is not None:
            _apply_response_context(response, wanted)
        return response

    return endpoint
