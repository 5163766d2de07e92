"""The outermost ASGI layer of an API worker: inference requests skip the generic machinery.

A POST to an API route goes straight to that API's endpoint; everything else (probes, docs,
404/405, lifespan) goes to the Starlette app. On a cheap model the layers this skips (error and
exception middlewares, the router's regex matching, per-route wrappers) are a measurable share
of a request; the endpoint itself already turns every failure into the JSON error envelope.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..metrics.meters import RequestMeter
from .errors import handle_unexpected

Endpoint = Callable[[Request], Awaitable[Response]]


class ApiDispatcher:
    """``meters``: by route, where its requests are counted (``bentoml_api_server_request_*``),
    from here until the answer is handed over (a streamed one: until its last chunk); none:
    not measured. Only API requests are: classic labelled every path, so a scanner's stray
    URLs made a series each and grew the metrics without bound."""

    def __init__(
        self,
        endpoints: dict[str, Endpoint],
        fallback: ASGIApp,
        meters: Mapping[str, RequestMeter] | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.fallback = fallback
        self.meters = dict(meters or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            endpoint = self.endpoints.get(path)
            if endpoint is not None:
                meter = self.meters.get(path)
                if meter is not None:
                    await self._answer_metered(endpoint, meter, scope, receive, send)
                    return
                request = Request(scope, receive)
                try:
                    response = await endpoint(request)
                except Exception as exc:  # a bug of ours: still the envelope
                    response = await handle_unexpected(request, exc)
                await response(scope, receive, send)
                return
        await self.fallback(scope, receive, send)

    @staticmethod
    async def _answer_metered(
        endpoint: Endpoint, meter: RequestMeter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        meter.enter()
        started = time.perf_counter()
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = await handle_unexpected(request, exc)
        except BaseException:  # cancelled: the server stops
            meter.leave(500, time.perf_counter() - started)
            raise
        if not isinstance(response, StreamingResponse):
            # Counted before it leaves: a client that has its answer finds it on /metrics.
            meter.leave(response.status_code, time.perf_counter() - started)
            await response(scope, receive, send)
            return
        status = 500  # the stream failed on its way (cut by an error, or the client left)
        try:
            await response(scope, receive, send)
            status = response.status_code
        finally:
            meter.leave(status, time.perf_counter() - started)
