"""Pure ASGI middleware that puts a request id on every response (errors and 404s included)."""

from __future__ import annotations

import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_CLIENT_ID_RE = re.compile(rb"^[A-Za-z0-9._-]{1,128}$")


class RequestIdMiddleware:
    """Reuses a sane client-sent ``X-Request-ID`` (for tracing across hops), else makes one.

    Written as raw ASGI rather than BaseHTTPMiddleware: that one costs a task and a stream per
    request, which shows on a hot path that does little else.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == HEADER and _CLIENT_ID_RE.match(value):
                request_id = value
                break
        if request_id is None:
            request_id = os.urandom(8).hex().encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)
