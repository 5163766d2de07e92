"""Pure ASGI middleware that enforces ``api_server.max_request_size`` on every route.

A body over the limit is answered with 413 in the JSON envelope before it is buffered:

- a ``Content-Length`` over the limit is refused at once, without reading a byte of the body;
- a ``Content-Length`` within the limit needs nothing more: the HTTP server (h11 / httptools)
  never delivers more body than the header declares, so the hot path pays one scan of the header
  list and no wrapper at all;
- a body without one (``Transfer-Encoding: chunked``) is counted as it streams in: ``receive``
  raises ``PayloadTooLarge`` as soon as the count passes the limit, so at most one chunk beyond
  the limit is ever held. Every body reader in the server turns a BentoMLException into its
  envelope; should the error escape the app before a response started, it is answered here.

Either way the 413 carries ``Connection: close``: the rest of the body is never read, and keeping
the connection would make the server drain it (or parse it as the next request).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..exceptions import PayloadTooLarge
from .errors import error_response

_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
_CLOSE = {"connection": "close"}


def too_large(limit: int, *, declared: int | None = None) -> PayloadTooLarge:
    size = "" if declared is None else f"of {declared} bytes "
    detail: dict[str, int] = {"limit": limit}
    if declared is not None:
        detail["content_length"] = declared
    return PayloadTooLarge(
        f"request body {size}is larger than the limit of {limit} bytes "
        "(api_server.max_request_size)",
        detail=detail,
    )


class RequestSizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        chunked = False
        for name, value in scope["headers"]:
            if name == _CONTENT_LENGTH:
                declared = value
            elif name == _TRANSFER_ENCODING:
                chunked = True
        if declared is not None and not chunked:
            try:
                length = int(declared)
            except ValueError:  # the server refuses such requests; count them anyway
                length = -1
            if length > self.max_bytes:
                response = error_response(too_large(self.max_bytes, declared=length), _CLOSE)
                await response(scope, receive, send)
                return
            if length >= 0:
                await self.app(scope, receive, send)
                return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The slow path, for bodies of unknown length: count bytes, stop at the limit."""
        limit = self.max_bytes
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:  # a reader that swallowed the first error must not get more body
                raise too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise too_large(limit)
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if exceeded:
                    message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, counting_receive, closing_send)
        except PayloadTooLarge:
            if not exceeded:
                raise
            if not started:
                await error_response(too_large(limit), _CLOSE)(scope, receive, send)
