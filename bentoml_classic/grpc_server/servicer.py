"""``bentoml.grpc.v1.BentoService``: ``Call`` runs an API as the HTTP endpoint does, and
``ServiceMetadata`` describes the APIs.

A call goes the HTTP endpoint's way (``http/endpoint.py``): the worker's traffic control
(``max_concurrency`` answered RESOURCE_EXHAUSTED, the ``timeout`` DEADLINE_EXCEEDED), the input
descriptor (through ``codec.py``), the function (async on the loop, sync in the pool:
``http/sync_calls.py``; classic ran every sync handler on one thread), the output descriptor.
Every failure is aborted with its status code and the JSON envelope in the trailing metadata
(``grpc/codes.py``); a user's exception is INTERNAL naming its type only, as over HTTP. A
client's own deadline cancels the handler, as gRPC does.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, NoReturn, cast

from ..classic_service import InferenceAPI, Service
from ..context import Context, response_wanted
from ..exceptions import BadInput, BentoMLException, InternalServerError, excerpt
from ..grpc.codes import code_name, envelope_metadata
from ..http.errors import from_user_exception
from ..http.sync_calls import SyncCaller
from ..http.threadpool import ThreadPool
from ..http.traffic import TrafficControl
from ..metrics.meters import RequestMeter
from .codec import descriptor_id, jsonable_attributes, read_content, write_content


class GrpcRequest:
    """``ctx.request`` in an API called over gRPC: the call's metadata (``metadata``, pairs as
    gRPC gives them; ``headers``, the text ones by lower-case name, as HTTP code reads them),
    the method and the peer."""

    __slots__ = ("headers", "metadata", "method", "peer")

    def __init__(self, metadata: Any, method: str, peer: str) -> None:
        self.metadata: tuple[tuple[str, str | bytes], ...] = tuple(
            (str(key), value) for key, value in (metadata or ())
        )
        self.headers: dict[str, str] = {
            key.lower(): value for key, value in self.metadata if isinstance(value, str)
        }
        self.method = method
        self.peer = peer


class BentoServicer:
    """One per gRPC API worker; ``state`` is the worker's, shared with the lifecycle hooks."""

    def __init__(
        self,
        svc: Service,
        pb: Any,
        *,
        state: dict[str, Any],
        traffic: TrafficControl,
        pool: ThreadPool,
        development: bool,
        inline_sync_apis: bool,
        meters: dict[str, RequestMeter] | None = None,
    ) -> None:
        self.svc = svc
        self.pb = pb
        self.state = state
        self.traffic = traffic
        self.development = development
        self.meters = meters or {}
        self.apis: dict[str, InferenceAPI] = dict(svc.apis)
        self.callers = {
            name: SyncCaller(pool, name=name, inline_allowed=inline_sync_apis) for name in self.apis
        }
        self._metadata = self._describe()

    # -- ServiceMetadata -----------------------------------------------------------------------

    def _describe(self) -> Any:
        pb = self.pb
        response = pb.ServiceMetadataResponse(
            name=self.svc.name, docs=getattr(self.svc, "doc", None) or ""
        )
        for api in self.apis.values():
            entry = response.apis.add(name=api.name)
            if api.doc:
                entry.docs = api.doc
            for slot, descriptor in (("input", api.input), ("output", api.output)):
                target = getattr(entry, slot)
                target.descriptor_id = descriptor_id(descriptor)
                target.attributes.update(jsonable_attributes(descriptor))
        return response

    async def ServiceMetadata(self, request: Any, context: Any) -> Any:  # gRPC names it
        return self._metadata

    # -- Call ----------------------------------------------------------------------------------

    async def Call(self, request: Any, context: Any) -> Any:  # gRPC names it
        traffic = self.traffic
        refused = traffic.too_many()
        if refused is not None:
            await _abort(context, refused)
        meter = self.meters.get(request.api_name)
        started = time.perf_counter()
        if meter is not None:
            meter.enter()
        status = 500
        error: BentoMLException | None = None
        task = asyncio.current_task()
        assert task is not None
        traffic.enter(task)
        try:
            response = await self._handle(request, context)
            status = 200
            return response
        except _Refused as refusal:
            error = refusal.error
        except asyncio.CancelledError:
            if not traffic.expired(task):
                raise  # the client's deadline or cancellation, or the server stopping
            task.uncancel()
            error = traffic.timed_out(request.api_name)
        finally:
            traffic.leave(task)
            if meter is not None:
                answered = status if error is None else error.http_status
                meter.leave(answered, time.perf_counter() - started)
        assert error is not None
        await _abort(context, error)

    async def _handle(self, request: Any, context: Any) -> Any:
        """The response, or ``_Refused`` carrying the error to answer with."""
        api = self.apis.get(request.api_name)
        if api is None:
            raise _Refused(self._unknown_api(request.api_name))
        try:
            value = await read_content(api.input, request, "content", api.name)
        except BentoMLException as exc:
            raise _Refused(exc) from None
        ctx = None
        kwargs: dict[str, Any] = {}
        if api.ctx_param:
            grpc_request = GrpcRequest(context.invocation_metadata(), api.name, context.peer())
            ctx = Context(cast(Any, grpc_request), self.state)
            kwargs[api.ctx_param] = ctx
        args: tuple[Any, ...] = (value,)
        if api.input_as_kwargs:
            args, kwargs = (), {**value, **kwargs}
        try:
            result = await self._run(api, args, kwargs)
        except Exception as exc:
            raise _Refused(from_user_exception(exc, api.name, self.development)) from None
        response = self.pb.Response()
        try:
            await write_content(api.output, result, response)
        except Exception as exc:
            raise _Refused(
                InternalServerError(
                    f"API {api.name!r} returned {type(result).__name__}, which its output "
                    f"descriptor {type(api.output).__name__} cannot render: {excerpt(exc)}",
                    detail={"exception": type(exc).__name__},
                )
            ) from None
        if ctx is not None and (wanted := response_wanted(ctx)) is not None:
            items = [(key.lower(), value) for key, value in wanted.header_items()]
            if items:
                context.set_trailing_metadata(tuple(items))
        return response

    async def _run(self, api: InferenceAPI, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        func = api.func
        if inspect.isasyncgenfunction(func):  # a streamed Text answer, joined: Call is unary
            return "".join([str(chunk) async for chunk in func(*args, **kwargs)])
        if inspect.isgeneratorfunction(func):
            chunks = await self.callers[api.name].call(
                lambda: [str(chunk) for chunk in func(*args, **kwargs)], (), {}, False
            )
            return "".join(chunks)
        if api.is_async:
            return await func(*args, **kwargs)
        # Always the pool: running a quick sync function on the loop thread is safe only when no
        # other call waits, and calls gRPC has accepted but not yet handed over are not counted
        # anywhere this can see (uvicorn counts them for HTTP). Measured with the iris service
        # at c=64, inline calls halved the throughput (docs/benchmarks.md).
        return await self.callers[api.name].call(func, args, kwargs, False)

    def _unknown_api(self, name: str) -> BadInput:
        known = list(self.apis)
        if not name:
            return BadInput(
                f"api_name is empty: name one of this service's APIs {known}",
                detail={"field": "api_name", "apis": known},
            )
        return BadInput(
            f"unknown API {excerpt(name, 100)!r}: this service has the APIs {known}",
            detail={"field": "api_name", "api_name": excerpt(name, 100), "apis": known},
        )


class _Refused(Exception):
    """How ``_handle`` hands ``Call`` the error to answer with, so the call is metered with
    its status before the answer ends it."""

    def __init__(self, error: BentoMLException) -> None:
        super().__init__(error.message)
        self.error = error


async def _abort(context: Any, exc: BentoMLException) -> NoReturn:
    """End the call with ``exc``'s status code, message and envelope; raises."""
    import grpc

    await context.abort(
        grpc.StatusCode[code_name(exc)], exc.message, trailing_metadata=envelope_metadata(exc)
    )
    raise AssertionError("context.abort returned")  # it raises; mypy cannot know
