"""Pure ASGI middleware that puts a request id on every response (errors and 404s included).

Being the outermost layer, it is also where a streamed answer that broke off ends
(``streaming.StreamCut``).
"""

from __future__ import annotations

import itertools
import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .streaming import StreamCut

HEADER = b"x-request-id"
_CLIENT_ID_RE = re.compile(rb"^[A-Za-z0-9._-]{1,128}$")


class RequestIds:
    """16 hex digits: 8 drawn at random per process, then a counter of 8.

    Unique within a process for 2**32 requests, and across processes unless two draw the same
    prefix. Drawing all 64 bits per request cost a getrandom() system call on every request,
    and an id only has to tell requests apart in the logs, not be unguessable.
    """

    def __init__(self) -> None:
        self.redraw()
        # a forked child must not repeat its parent's ids
        os.register_at_fork(after_in_child=self.redraw)

    def redraw(self) -> None:
        self._prefix = os.urandom(4).hex().encode()
        self._count = itertools.count()

    def next(self) -> bytes:
        return b"%s%08x" % (self._prefix, next(self._count) & 0xFFFFFFFF)


#: one per process: the fork hook keeps what it is given alive
_ids = RequestIds()


def new_request_id() -> bytes:
    """An id for a response made outside the ASGI app (the server's own refusals)."""
    return _ids.next()


def request_id_of(scope: Scope) -> bytes:
    """The id of the request of ``scope``: a sane client-sent ``X-Request-ID`` (for tracing
    across hops), else a new one; also put in the scope's state for the app (``ctx``, errors)."""
    request_id = None
    for name, value in scope["headers"]:
        if name == HEADER and _CLIENT_ID_RE.match(value):
            request_id = value
            break
    if request_id is None:
        request_id = _ids.next()
    scope.setdefault("state", {})["request_id"] = request_id.decode()
    return request_id


class RequestIdMiddleware:
    """Puts the request's id (``request_id_of``) on its response.

    Written as raw ASGI rather than BaseHTTPMiddleware: that one costs a task and a stream per
    request, which shows on a hot path that does little else. With the access log on,
    ``access_log.AccessLogMiddleware`` takes this one's place and does both.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except StreamCut:
            # logged where it happened; returning leaves the response incomplete, which the
            # server answers by closing the connection (streaming.py)
            return
