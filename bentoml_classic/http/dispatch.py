"""The outermost ASGI layer of an API worker: inference requests skip the generic machinery.

A POST to an API route goes straight to that API's endpoint; everything else (probes, docs,
404/405, lifespan) goes to the Starlette app. On a cheap model the layers this skips (error and
exception middlewares, the router's regex matching, per-route wrappers) are a measurable share
of a request; the endpoint itself already turns every failure into the JSON error envelope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import handle_unexpected

Endpoint = Callable[[Request], Awaitable[Response]]


class ApiDispatcher:
    def __init__(self, endpoints: dict[str, Endpoint], fallback: ASGIApp) -> None:
        self.endpoints = endpoints
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                request = Request(scope, receive)
                try:
                    response = await endpoint(request)
                except Exception as exc:  # a bug of ours: still the envelope
                    response = await handle_unexpected(request, exc)
                await response(scope, receive, send)
                return
        await self.fallback(scope, receive, send)
