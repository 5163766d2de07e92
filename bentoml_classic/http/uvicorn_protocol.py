"""uvicorn's HTTP protocol, with a response's head and body leaving the process in one write.

uvicorn hands the head and the body of a response to the transport in two ``write`` calls, and
uvloop sends each at once: two syscalls and two TCP segments per answer, so (with TCP_NODELAY)
the client wakes up twice, and on a cheap model that is a visible share of every request. Here
the writes made during one event loop turn are gathered and handed over together as one
``writelines`` (one ``writev``); what that gained is in docs/architecture.md ("Request path").

They are handed over as soon as the response is complete, else at the end of the turn. Waiting
for the end of the turn made every answer wait while its request's task unwound the middlewares
(a measurable part of the iris example's p50 at concurrency 1).

It also shows the app the server's set of requests in progress (the scope's ``REQUEST_TASKS``),
which decides whether a sync API function may run on the event loop thread (``sync_calls.py``).

Back-pressure is unchanged: past ``_FLUSH_AT`` bytes pending, a write goes through at once, so
a response streamed without yielding to the loop still fills the transport, which then pauses
the protocol as usual.

When the worker shuts down, uvicorn closes idle kept-alive connections at once, so a request a
client sends at that moment meets a reset. Here an idle connection stays open for
``shutdown_linger_s`` more, and a request that arrives on it meanwhile gets a 503 with
``Connection: close``: the client learns to retry on a new connection, which goes to a worker
that still serves. (The request in progress on a busy connection finishes, and its response
says ``Connection: close``, as uvicorn has it.)

And it closes a connection whose request headers are not complete ``header_timeout`` seconds
after it opened (or after the request's first byte, on a kept-alive connection): uvicorn times
out idle kept-alive connections, but not one that never finishes its headers, so a few hundred
such clients would hold a worker's connections open for ever (``api_server.http.header_timeout``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from .request_id import HEADER, new_request_id
from .sync_calls import REQUEST_TASKS

logger = logging.getLogger(__name__)

#: pending bytes that are handed over at once rather than at the end of the loop turn
_FLUSH_AT = 64 * 1024
#: seconds a client has to complete a request's headers (``api_server.http.header_timeout``)
DEFAULT_HEADER_TIMEOUT_S = 30.0

#: see ``GatheringHttpToolsProtocol.shutdown_linger_s``
SHUTDOWN_LINGER_S = 0.2

_SHUTTING_DOWN_BODY = (
    b'{"error": {"type": "ServiceUnavailable", "message": "the server is shutting down: '
    b'send the request again, on a new connection"}}'
)


async def refuse_while_shutting_down(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI app of a connection's requests once its worker shuts down: a 503 that closes
    the connection (uvicorn runs it like any request, pipelined ones included)."""
    headers = [
        (b"content-type", b"application/json"),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
        (b"content-length", b"%d" % len(_SHUTTING_DOWN_BODY)),
        (HEADER, new_request_id()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _SHUTTING_DOWN_BODY})


class HeaderDeadlines:
    """Closes the connections whose request headers are overdue; one per server.

    One timer looks every ``period`` seconds while any connection waits for headers, rather
    than a timer per request: arming and cancelling one per request would show on a cheap
    model's hot path. A connection is closed between ``timeout`` and ``timeout + period``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.timeout = timeout
        self._period = min(1.0, timeout / 4)
        self._loop = loop
        #: connection -> loop time its headers were first waited for
        self.waiting: dict[Any, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def expect(self, connection: Any) -> None:
        """Headers are awaited on ``connection`` from now, unless they already were."""
        if connection not in self.waiting:
            self.waiting[connection] = self._loop.time()
            if self._timer is None:
                self._timer = self._loop.call_later(self._period, self._sweep)

    def received(self, connection: Any) -> None:
        self.waiting.pop(connection, None)

    def _sweep(self) -> None:
        self._timer = None
        overdue = self._loop.time() - self.timeout
        for connection, since in list(self.waiting.items()):
            if since <= overdue:
                del self.waiting[connection]
                logger.info("closing a connection that sent no complete request headers in time")
                connection.transport.close()
        if self.waiting:
            self._timer = self._loop.call_later(self._period, self._sweep)


class GatheringTransport:
    """Wraps a transport: writes of one loop turn go out together; all else is delegated."""

    __slots__ = ("_loop", "_pending", "_pending_size", "_transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[Any] | None = None  # None: no flush scheduled
        self._pending_size = 0

    def write(self, data: Any) -> None:
        if self._pending is None:
            self._pending = [data]
            self._pending_size = len(data)
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)
            self._pending_size += len(data)
        if self._pending_size >= _FLUSH_AT:
            self.flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Hand over what is pending now (also the end-of-turn callback, which may then find
        nothing left)."""
        pending, self._pending = self._pending, None
        self._pending_size = 0
        if pending and not self._transport.is_closing():
            self._transport.writelines(pending)

    def close(self) -> None:
        self.flush()  # what was written before close() must still go out
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return int(self._transport.get_write_buffer_size()) + self._pending_size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools missing: uvicorn's own choice, two writes and all
    HttpToolsProtocol = None  # type: ignore[assignment,misc]
else:

    class GatheringHttpToolsProtocol(HttpToolsProtocol):
        #: set by ``http_protocol()`` from ``api_server.http.header_timeout``
        header_timeout: ClassVar[float] = DEFAULT_HEADER_TIMEOUT_S
        #: how long an idle kept-alive connection stays open once the worker shuts down, to
        #: answer a request already on its way with a 503 rather than a reset
        shutdown_linger_s: ClassVar[float] = SHUTDOWN_LINGER_S

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(GatheringTransport(transport, self.loop))  # type: ignore[arg-type]
            deadlines = getattr(self.server_state, "header_deadlines", None)
            if deadlines is None or deadlines.timeout != self.header_timeout:
                deadlines = HeaderDeadlines(self.loop, self.header_timeout)
                self.server_state.header_deadlines = deadlines  # type: ignore[attr-defined]
            self._header_deadlines = deadlines
            deadlines.expect(self)

        def connection_lost(self, exc: Exception | None) -> None:
            self._header_deadlines.received(self)
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.scope[REQUEST_TASKS] = self.tasks  # type: ignore[literal-required]
            self._header_deadlines.expect(self)

        def on_headers_complete(self) -> None:
            self._header_deadlines.received(self)
            super().on_headers_complete()

        def shutdown(self) -> None:
            # Requests whose headers arrive from now on are answered 503; the one in progress
            # keeps the app it started with.
            self.app = refuse_while_shutting_down
            if self.cycle is None or self.cycle.response_complete:
                self.loop.call_later(self.shutdown_linger_s, self._close_if_idle)
                return
            super().shutdown()

        def _close_if_idle(self) -> None:
            if self.cycle is None or self.cycle.response_complete:
                if not self.transport.is_closing():
                    self.transport.close()
            else:  # a request came meanwhile: its 503 closes the connection
                self.cycle.keep_alive = False

        def on_response_complete(self) -> None:
            # The last byte of the response is written: send it now, not after the request's
            # task has unwound and the loop came round to the flush.
            transport = self.transport
            if isinstance(transport, GatheringTransport):
                transport.flush()
            super().on_response_complete()


def http_protocol(header_timeout: float = DEFAULT_HEADER_TIMEOUT_S) -> Any:
    """What to give uvicorn's ``http=``: httptools' protocol with gathered writes, if it is there.

    With the default timeout, the class at module level, so that uvicorn's reloader can pickle a
    config that names it; with another, a subclass that carries it.
    """
    if HttpToolsProtocol is None:
        return "auto"
    if header_timeout == DEFAULT_HEADER_TIMEOUT_S:
        return GatheringHttpToolsProtocol
    return type(
        "GatheringHttpToolsProtocol",
        (GatheringHttpToolsProtocol,),
        {"header_timeout": header_timeout, "__module__": __name__},
    )
